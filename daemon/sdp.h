/* The session description we hand to sofia's offer/answer engine, and checks of offers. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The user SDP for one call: an audio m-line on port with PCMU/0, PCMA/8 and
 * telephone-event/101, c= address (NULL: left for sofia to fill in), and direction
 * ("sendrecv"; "sendonly" to hold; "inactive" to hold a call the far end holds too). sofia's soa
 * derives the offers and answers from it (e.g. recvonly in answer to a far end's sendonly).
 */
char *sp_sdp_build(const char *address, guint port, const char *direction);

/*
 * Whether an offer gives us something to talk with: an audio m-line with a port and PCMU or
 * PCMA (static payload types 0/8, or by rtpmap name). FALSE also for text that is not SDP.
 */
gboolean sp_sdp_offer_usable(const char *body, gsize len);

G_END_DECLS
