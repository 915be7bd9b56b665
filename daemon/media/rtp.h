/* RTP datagrams (RFC 3550 §5.1): parsing, building, telling RTCP from RTP on a muxed port. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SP_RTP_VERSION 2
#define SP_RTP_HEADER_LEN 12 /* fixed header, no CSRC, no extension */
#define SP_RTP_MAX_CSRC 15

/*
 * One parsed RTP packet. payload points into the datagram given to sp_rtp_parse(), so it is
 * valid as long as that buffer is; padding is already removed from payload_len.
 */
typedef struct {
	guint8 payload_type; /* 0..127 */
	gboolean marker;
	guint16 seq;
	guint32 ts;
	guint32 ssrc;
	guint csrc_count; /* 0..15, the CSRCs in csrc[] */
	guint32 csrc[SP_RTP_MAX_CSRC];
	gboolean has_extension;	   /* X bit: the extension was skipped */
	guint16 extension_profile; /* its "defined by profile" word, when has_extension */
	guint padding_len;	   /* octets of padding removed (P bit), 0 without */
	const guint8 *payload;
	gsize payload_len; /* may be 0 */
} SpRtpPacket;

/*
 * Parses the datagram data[0..len). FALSE (and *out undefined) when it is not a well-formed RTP
 * packet: shorter than 12 octets, version not 2, a CSRC list or header extension that does not
 * fit, or a P bit whose pad count is 0 or larger than what follows the header.
 */
gboolean sp_rtp_parse(const guint8 *data, gsize len, SpRtpPacket *out);

/*
 * Writes a 12-octet header (V=2, no padding, no extension, no CSRC) and the payload into
 * buf[0..size). Returns the datagram's length, or 0 when it does not fit (buf is then left
 * unspecified). payload may be NULL when payload_len is 0. payload_type is masked to 7 bits.
 */
gsize sp_rtp_build(guint8 *buf, gsize size, guint8 payload_type, gboolean marker, guint16 seq,
		   guint32 ts, guint32 ssrc, const guint8 *payload, gsize payload_len);

/*
 * RFC 5761 §4: on a port where RTP and RTCP are multiplexed, a datagram whose second octet is
 * 192..223 is RTCP (200 SR, 201 RR, 202 SDES, 203 BYE, ...), anything else RTP. FALSE for a
 * datagram shorter than 2 octets.
 */
gboolean sp_rtp_is_rtcp(const guint8 *data, gsize len);

G_END_DECLS
