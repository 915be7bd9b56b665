/* libFuzzer target: our reading of the far end's SDP, offer or answer: whether an offer is
 * usable, and what a finished offer/answer settles on against each SDP we build. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "daemon/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ALL[] = {"opus", "G722", "PCMU", "PCMA", NULL};
static const char *const G711[] = {"PCMA", "PCMU", NULL};
static const char *const *const LISTS[] = {NULL, ALL, G711};
static const char *const DIRECTIONS[] = {"sendrecv", "sendonly", "inactive"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *remote = NULL;
	g_autofree char *local = NULL;
	const char *const *codecs;
	SpSdpMedia m = {0};
	SpMediaDesc desc;
	guint8 mode;

	if (size < 1)
		return 0;
	mode = data[0];
	codecs = LISTS[mode % G_N_ELEMENTS(LISTS)];
	/* The far end's text, as sofia hands it over: NUL-terminated. */
	remote = g_strndup((const char *)data + 1, size - 1);

	(void)sp_sdp_offer_usable((const char *)data + 1, size - 1, codecs);

	local = sp_sdp_build((mode & 0x10) ? "127.0.0.1" : NULL, 4000 + (mode & 0x0f) * 2,
			     DIRECTIONS[(mode >> 5) % G_N_ELEMENTS(DIRECTIONS)], codecs,
			     (mode & 0x80) ? 30 : 0);
	g_assert(local != NULL);
	if (sp_sdp_media_negotiated_str(local, remote, 20, &m)) {
		g_assert(m.codec != NULL);
		g_assert(m.payload_type < 128);
		g_assert(m.ptime_ms >= 10 && m.ptime_ms <= 60);
		g_assert(m.clock_rate == 8000 || m.clock_rate == 16000 || m.clock_rate == 48000);
		g_assert(m.telephone_event_pt >= -1 && m.telephone_event_pt < 128);
		sp_sdp_media_to_desc(&m, (mode & 1) != 0, &desc);
		g_assert(desc.payload_type == m.payload_type);
	}
	sp_sdp_media_clear(&m);
	return 0;
}
