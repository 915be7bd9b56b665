/* RTP datagrams (RFC 3550 §5.1): parsing, building, telling RTCP from RTP on a muxed port. */
#include "daemon/media/rtp.h"

#include <string.h>

static guint16 get16(const guint8 *p)
{
	return (guint16)((p[0] << 8) | p[1]);
}

static guint32 get32(const guint8 *p)
{
	return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static void put16(guint8 *p, guint16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(guint8 *p, guint32 v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

gboolean sp_rtp_parse(const guint8 *data, gsize len, SpRtpPacket *out)
{
	gsize off, end;
	guint i;

	if (!data || !out || len < SP_RTP_HEADER_LEN)
		return FALSE;
	if ((data[0] >> 6) != SP_RTP_VERSION)
		return FALSE;

	memset(out, 0, sizeof(*out));
	out->csrc_count = data[0] & 0x0f;
	out->marker = (data[1] & 0x80) != 0;
	out->payload_type = data[1] & 0x7f;
	out->seq = get16(data + 2);
	out->ts = get32(data + 4);
	out->ssrc = get32(data + 8);

	off = SP_RTP_HEADER_LEN;
	if (len - off < 4 * (gsize)out->csrc_count)
		return FALSE;
	for (i = 0; i < out->csrc_count; i++, off += 4)
		out->csrc[i] = get32(data + off);

	if (data[0] & 0x10) {
		gsize ext_len;

		if (len - off < 4)
			return FALSE;
		out->has_extension = TRUE;
		out->extension_profile = get16(data + off);
		ext_len = 4 * (gsize)get16(data + off + 2);
		off += 4;
		if (len - off < ext_len)
			return FALSE;
		off += ext_len;
	}

	end = len;
	if (data[0] & 0x20) {
		/* The last octet counts the padding, itself included. */
		guint pad = data[len - 1];

		if (pad == 0 || pad > len - off)
			return FALSE;
		out->padding_len = pad;
		end -= pad;
	}

	out->payload = data + off;
	out->payload_len = end - off;
	return TRUE;
}

gsize sp_rtp_build(guint8 *buf, gsize size, guint8 payload_type, gboolean marker, guint16 seq,
		   guint32 ts, guint32 ssrc, const guint8 *payload, gsize payload_len)
{
	if (!buf || size < SP_RTP_HEADER_LEN || size - SP_RTP_HEADER_LEN < payload_len)
		return 0;
	if (payload_len > 0 && !payload)
		return 0;

	buf[0] = SP_RTP_VERSION << 6;
	buf[1] = (marker ? 0x80 : 0) | (payload_type & 0x7f);
	put16(buf + 2, seq);
	put32(buf + 4, ts);
	put32(buf + 8, ssrc);
	if (payload_len > 0)
		memcpy(buf + SP_RTP_HEADER_LEN, payload, payload_len);
	return SP_RTP_HEADER_LEN + payload_len;
}

gboolean sp_rtp_is_rtcp(const guint8 *data, gsize len)
{
	if (!data || len < 2)
		return FALSE;
	return data[1] >= 192 && data[1] <= 223;
}
