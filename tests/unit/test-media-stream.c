/* Unit tests of the media engine: two engines in one process talk RTP over loopback, with ALSA
 * file PCMs as their microphones and speakers. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "daemon/media/stream.h"

#define RATE 48000

typedef struct {
	char *dir;
	GMainLoop *loop;
	GString *digits_b; /* what B heard, as dtmf_received said */
	guint timeouts;
	guint device_errors;
} Fixture;

static Fixture fx;

static void on_dtmf(gpointer user, char digit, guint duration_ms, const char *method)
{
	g_assert_cmpstr(method, ==, "rfc4733");
	g_assert_cmpuint(duration_ms, >=, 60);
	g_assert_cmpuint(duration_ms, <=, 140);
	g_string_append_c(user, digit);
}

static void on_timeout(gpointer user)
{
	fx.timeouts++;
}

static void on_device_error(gpointer user, const char *device, const char *error)
{
	fx.device_errors++;
}

static const SpMediaCallbacks callbacks = {on_dtmf, on_timeout, on_device_error};

static void write_tone(const char *path, double hz, double seconds)
{
	gsize n = (gsize)(RATE * seconds);
	g_autofree gint16 *pcm = g_new(gint16, n);

	for (gsize i = 0; i < n; i++)
		pcm[i] = (gint16)(8000.0 * sin(2.0 * G_PI * hz * (double)i / RATE));
	g_assert_true(g_file_set_contents(path, (const char *)pcm, (gssize)(n * sizeof(gint16)),
					  NULL));
}

/* The relative amplitude of hz in samples [start, start + n) (Goertzel). */
static double goertzel(const gint16 *pcm, gsize n, double hz)
{
	double k = 2.0 * cos(2.0 * G_PI * hz / RATE), s1 = 0, s2 = 0;

	for (gsize i = 0; i < n; i++) {
		double s0 = pcm[i] / 32768.0 + k * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return 2.0 * sqrt(s1 * s1 + s2 * s2 - k * s1 * s2) / (double)n;
}

static int udp_socket(guint16 *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static gboolean quit_loop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

/* Lets the engines run for ms: measurement time (audio has to flow), not synchronisation. */
static void run_for(guint ms)
{
	g_timeout_add(ms, quit_loop, fx.loop);
	g_main_loop_run(fx.loop);
}

static SpMediaDesc desc_to(guint16 port, const char *codec, guint8 pt, guint clock)
{
	SpMediaDesc d = {
	    .remote_address = "127.0.0.1",
	    .remote_rtp_port = port,
	    .remote_rtcp_port = port,
	    .rtcp_mux = TRUE,
	    .codec = codec,
	    .payload_type = pt,
	    .clock_rate = clock,
	    .ptime_ms = 20,
	    .telephone_event_pt = 101,
	    .direction = SP_MEDIA_SENDRECV,
	};

	return d;
}

static void call_both_ways(const char *codec, guint8 pt, guint clock)
{
	SpMediaEngineConfig ca = {"tone_a", "rec_a", 20, 200, 100, 70, 0};
	SpMediaEngineConfig cb = {"tone_b", "rec_b", 20, 200, 100, 70, 0};
	g_autoptr(SpMediaEngine) a = sp_media_engine_new(&ca, &callbacks, NULL, NULL);
	g_autoptr(SpMediaEngine) b = sp_media_engine_new(&cb, &callbacks, NULL, NULL);
	g_autoptr(GString) digits = g_string_new(NULL);
	guint16 pa, pb;
	int fa = udp_socket(&pa), fb = udp_socket(&pb);
	SpMediaStream *sa = sp_media_stream_new(a, fa, fa, "127.0.0.1", pa, NULL);
	SpMediaStream *sb = sp_media_stream_new(b, fb, fb, "127.0.0.1", pb, digits);
	SpMediaDesc da = desc_to(pb, codec, pt, clock), db = desc_to(pa, codec, pt, clock);
	g_autofree char *rec_path = g_build_filename(fx.dir, "rec_b.raw", NULL);
	g_autofree gint16 *rec = NULL;
	SpMediaStats st;
	gsize len = 0, n, present = 0, windows = 0;
	gint64 start;
	double seconds;
	int garbage;

	sp_media_stream_update(sa, &da);
	sp_media_stream_update(sb, &db);
	start = g_get_monotonic_time();
	run_for(400);
	sp_media_stream_send_dtmf(sa, "1#", FALSE);
	run_for(800);

	/* Garbage at B's port: dropped and counted, the audio unaffected. */
	garbage = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (guint i = 0; i < 50; i++) {
		struct sockaddr_in to = {.sin_family = AF_INET,
					 .sin_port = htons(pb),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		guint8 junk[40];

		for (gsize k = 0; k < sizeof(junk); k++)
			junk[k] = (guint8)g_random_int();
		junk[0] = 0x80 | (i % 16); /* version 2, a CSRC count that overruns the packet */
		sendto(garbage, junk, i % 2 ? 13 : sizeof(junk), 0, (struct sockaddr *)&to,
		       sizeof(to));
	}
	close(garbage);
	run_for(800);

	g_assert_true(sp_media_stream_get_stats(sb, &st));
	g_assert_cmpstr(st.codec, ==, codec);
	g_assert_cmpuint(st.packets_received, >, 50);
	g_assert_cmpuint(st.packets_discarded, >=, 50);
	g_assert_cmpuint(st.dtmf_received, ==, 2);
	sp_media_stream_free(sa);
	sp_media_stream_free(sb);
	seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	close(fa);
	close(fb);
	g_assert_cmpstr(digits->str, ==, "1#");

	g_assert_true(g_file_get_contents(rec_path, (char **)&rec, &len, NULL));
	n = len / sizeof(gint16);
	/* Pacing: the speaker got 48000 samples a second of the call, a few frames either way. */
	g_assert_cmpfloat(fabs((double)n / RATE - seconds), <, 0.2);
	/* A's 1 kHz tone in B's speaker (B's 1.5 kHz is not echoed back), from 1.3 s in: after
	 * the DTMF events, which replace the tone while they are sent. */
	for (gsize w = RATE * 13 / 10; w + 960 <= n; w += 960) {
		windows++;
		if (goertzel(rec + w, 960, 1000) > 0.1 && goertzel(rec + w, 960, 1500) < 0.02)
			present++;
	}
	g_test_message("%s: 1 kHz in %zu of %zu windows", codec, present, windows);
	g_assert_cmpuint(windows, >, 30);
	g_assert_cmpuint(present * 100, >=, windows * 90);
	g_assert_cmpuint(fx.device_errors, ==, 0);
}

static void test_pcmu(void)
{
	call_both_ways("PCMU", 0, 8000);
}

static void test_opus(void)
{
	call_both_ways("opus", 111, 48000);
}

/* A capture device that does not exist: one device_error, and the stream still sends. */
static void test_missing_device(void)
{
	SpMediaEngineConfig ca = {"no_such_pcm", "rec_a", 20, 200, 100, 70, 300};
	g_autoptr(SpMediaEngine) a = sp_media_engine_new(&ca, &callbacks, NULL, NULL);
	guint16 pa, pb;
	int fa = udp_socket(&pa), fb = udp_socket(&pb);
	SpMediaStream *sa = sp_media_stream_new(a, fa, fa, "127.0.0.1", pa, NULL);
	SpMediaDesc da = desc_to(pb, "PCMA", 8, 8000);
	SpMediaStats st;

	fx.device_errors = 0;
	fx.timeouts = 0;
	sp_media_stream_update(sa, &da);
	run_for(700);
	g_assert_true(sp_media_stream_get_stats(sa, &st));
	g_assert_cmpuint(st.packets_sent, >, 20);
	g_assert_cmpuint(fx.device_errors, ==, 1);
	/* Nothing came back for 300 ms while sendrecv: the media timeout, once. */
	g_assert_cmpuint(fx.timeouts, ==, 1);
	sp_media_stream_free(sa);
	close(fa);
	close(fb);
}

int main(int argc, char **argv)
{
	g_autofree char *asoundrc = NULL;
	g_autofree char *conf = NULL;
	g_autofree char *tone_a = NULL;
	g_autofree char *tone_b = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	fx.dir = g_dir_make_tmp("sp-media-XXXXXX", NULL);
	g_assert_nonnull(fx.dir);
	tone_a = g_build_filename(fx.dir, "tone_a.raw", NULL);
	tone_b = g_build_filename(fx.dir, "tone_b.raw", NULL);
	write_tone(tone_a, 1000, 10);
	write_tone(tone_b, 1500, 10);
	conf = g_strdup_printf(
	    "pcm.tone_a { type file slave.pcm \"null\" file \"/dev/null\" infile \"%s\" format \"raw\" }\n"
	    "pcm.tone_b { type file slave.pcm \"null\" file \"/dev/null\" infile \"%s\" format \"raw\" }\n"
	    "pcm.rec_a { type file slave.pcm \"null\" file \"%s/rec_a.raw\" format \"raw\" truncate true }\n"
	    "pcm.rec_b { type file slave.pcm \"null\" file \"%s/rec_b.raw\" format \"raw\" truncate true }\n",
	    tone_a, tone_b, fx.dir, fx.dir);
	asoundrc = g_build_filename(fx.dir, ".asoundrc", NULL);
	g_assert_true(g_file_set_contents(asoundrc, conf, -1, NULL));
	/* alsa-lib reads ~/.asoundrc when the first PCM is opened. */
	g_setenv("HOME", fx.dir, TRUE);
	fx.loop = g_main_loop_new(NULL, FALSE);

	g_test_add_func("/media/stream/pcmu-both-ways", test_pcmu);
	g_test_add_func("/media/stream/opus-both-ways", test_opus);
	g_test_add_func("/media/stream/missing-device", test_missing_device);
	rc = g_test_run();

	g_main_loop_unref(fx.loop);
	for (const char *f = "tone_a.raw\0tone_b.raw\0rec_a.raw\0rec_b.raw\0.asoundrc\0"; *f;
	     f += strlen(f) + 1) {
		g_autofree char *p = g_build_filename(fx.dir, f, NULL);

		g_unlink(p);
	}
	g_rmdir(fx.dir);
	g_free(fx.dir);
	return rc;
}
