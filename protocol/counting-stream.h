/* A GIOStream that passes everything to another, counts what is written, bounds what is read. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SP_TYPE_COUNTING_STREAM (sp_counting_stream_get_type())
G_DECLARE_FINAL_TYPE(SpCountingStream, sp_counting_stream, SP, COUNTING_STREAM, GIOStream)

/*
 * Wraps base (a reference is taken): reads and writes, also the non-blocking ones of pollable
 * streams, go to base's streams and are counted. Once more than read_limit bytes have been read
 * since the last sp_counting_stream_reset_read(), reads fail (G_IO_ERROR_MESSAGE_TOO_LARGE).
 * Closing the wrapper closes base.
 */
GIOStream *sp_counting_stream_new(GIOStream *base, gsize read_limit);
/* Bytes the base output stream has taken so far. */
guint64 sp_counting_stream_get_written(SpCountingStream *stream);
/* Starts counting reads against the limit afresh. */
void sp_counting_stream_reset_read(SpCountingStream *stream);

G_END_DECLS
