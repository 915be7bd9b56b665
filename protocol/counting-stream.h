/* A GIOStream that passes everything to another and counts the bytes written through it. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SP_TYPE_COUNTING_STREAM (sp_counting_stream_get_type())
G_DECLARE_FINAL_TYPE(SpCountingStream, sp_counting_stream, SP, COUNTING_STREAM, GIOStream)

/*
 * Wraps base (a reference is taken): reads go to base's input stream as they are; writes, also
 * the non-blocking ones of a pollable stream, go to base's output stream and are counted.
 * Closing the wrapper closes base.
 */
GIOStream *sp_counting_stream_new(GIOStream *base);
/* Bytes the base output stream has taken so far. */
guint64 sp_counting_stream_get_written(SpCountingStream *stream);

G_END_DECLS
