/* stream: a stand-in that carries no sound, until the media thread lands (being written). */
#include "daemon/media/stream.h"

struct _SpMediaEngine {
	gboolean muted;
};

struct _SpMediaStream {
	SpMediaEngine *engine;
};

SpMediaEngine *sp_media_engine_new(const SpMediaEngineConfig *config,
				   const SpMediaCallbacks *callbacks, gpointer engine_user_data,
				   GMainContext *context)
{
	return g_new0(SpMediaEngine, 1);
}

void sp_media_engine_free(SpMediaEngine *engine)
{
	g_free(engine);
}

void sp_media_engine_set_mute(SpMediaEngine *engine, gboolean muted)
{
	engine->muted = muted;
}

gboolean sp_media_engine_get_mute(SpMediaEngine *engine)
{
	return engine->muted;
}

SpMediaStream *sp_media_stream_new(SpMediaEngine *engine, int rtp_fd, int rtcp_fd,
				   const char *local_address, guint local_port,
				   gpointer stream_user_data)
{
	SpMediaStream *s = g_new0(SpMediaStream, 1);

	s->engine = engine;
	return s;
}

void sp_media_stream_update(SpMediaStream *stream, const SpMediaDesc *desc)
{
}

void sp_media_stream_send_dtmf(SpMediaStream *stream, const char *digits, gboolean inband)
{
}

gboolean sp_media_stream_get_stats(SpMediaStream *stream, SpMediaStats *out)
{
	return FALSE;
}

void sp_media_stream_free(SpMediaStream *stream)
{
	g_free(stream);
}
