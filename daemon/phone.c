/* The phone (stub, being written). */
#include "daemon/phone.h"

struct _SpPhone {
	int unused;
};

SpPhone *sp_phone_new(const SpConfig *config, GError **error)
{
	return g_new0(SpPhone, 1);
}

void sp_phone_free(SpPhone *phone)
{
	g_free(phone);
}

void sp_phone_set_event_func(SpPhone *phone, SpPhoneEventFunc func, gpointer user_data)
{
}

void sp_phone_set_changed_func(SpPhone *phone, SpPhoneChangedFunc func, gpointer user_data)
{
}

gboolean sp_phone_start(SpPhone *phone, GError **error)
{
	return TRUE;
}

void sp_phone_shutdown(SpPhone *phone, guint deadline_ms, GSourceFunc done, gpointer user_data)
{
	g_idle_add(done, user_data);
}

guint sp_phone_count_connections(SpPhone *phone)
{
	return 0;
}

guint sp_phone_count_ready(SpPhone *phone)
{
	return 0;
}

const SpPhoneApi *sp_phone_api(void)
{
	static const SpPhoneApi api = {0};
	return &api;
}
