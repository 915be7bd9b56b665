/* The one place that includes sofia-sip, so every file agrees on the magic types. */
#pragma once

struct _SpPhone;
struct _SpConnection;
struct _SpSession;

/* The root belongs to the phone, each NUA to a connection, each call handle to a session. */
#define SU_ROOT_MAGIC_T struct _SpPhone
#define NUA_MAGIC_T struct _SpConnection
#define NUA_HMAGIC_T struct _SpSession

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/soa.h>
#include <sofia-sip/soa_tag.h>
#include <sofia-sip/su_glib.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/url.h>
