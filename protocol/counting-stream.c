/*
 * A GIOStream that counts what goes through it. The WebSocket transport hands it to libsoup,
 * which keeps its own queue of outgoing frames and says nothing of how much of it is still
 * waiting: the count of bytes actually taken by the socket tells how far a client lags. And
 * libsoup (3.2) puts the fragments of an incoming message together without a bound: a cap on
 * the bytes read between two messages keeps a client from growing that without end.
 */
#include "protocol/counting-stream.h"

#define SP_TYPE_COUNTING_OUTPUT (sp_counting_output_get_type())
G_DECLARE_FINAL_TYPE(SpCountingOutput, sp_counting_output, SP, COUNTING_OUTPUT, GOutputStream)

struct _SpCountingOutput {
	GOutputStream parent;
	GOutputStream *base;
	guint64 written;
};

#define SP_TYPE_COUNTING_INPUT (sp_counting_input_get_type())
G_DECLARE_FINAL_TYPE(SpCountingInput, sp_counting_input, SP, COUNTING_INPUT, GInputStream)

struct _SpCountingInput {
	GInputStream parent;
	GInputStream *base;
	gsize limit;
	gsize read; /* since the last reset */
};

struct _SpCountingStream {
	GIOStream parent;
	GIOStream *base;
	SpCountingInput *input;
	SpCountingOutput *output;
};

static void counting_output_pollable_init(GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SpCountingOutput, sp_counting_output, G_TYPE_OUTPUT_STREAM,
			G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_OUTPUT_STREAM,
					      counting_output_pollable_init))
static void counting_input_pollable_init(GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SpCountingInput, sp_counting_input, G_TYPE_INPUT_STREAM,
			G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM,
					      counting_input_pollable_init))
G_DEFINE_TYPE(SpCountingStream, sp_counting_stream, G_TYPE_IO_STREAM)

/* ---- input ---------------------------------------------------------------------------------- */

static gboolean counting_input_over(SpCountingInput *self, GError **error)
{
	if (self->read <= self->limit)
		return FALSE;
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
		    "more than %" G_GSIZE_FORMAT " bytes without a complete message", self->limit);
	return TRUE;
}

static gssize counting_input_read(GInputStream *stream, void *buffer, gsize count,
				  GCancellable *cancellable, GError **error)
{
	SpCountingInput *self = SP_COUNTING_INPUT(stream);
	gssize n;

	if (counting_input_over(self, error))
		return -1;
	n = g_input_stream_read(self->base, buffer, count, cancellable, error);
	if (n > 0)
		self->read += (gsize)n;
	return n;
}

static gboolean counting_input_close(GInputStream *stream, GCancellable *cancellable,
				     GError **error)
{
	return TRUE;
}

static gboolean counting_input_can_poll(GPollableInputStream *stream)
{
	SpCountingInput *self = SP_COUNTING_INPUT(stream);

	return G_IS_POLLABLE_INPUT_STREAM(self->base) &&
	       g_pollable_input_stream_can_poll(G_POLLABLE_INPUT_STREAM(self->base));
}

static gboolean counting_input_is_readable(GPollableInputStream *stream)
{
	return g_pollable_input_stream_is_readable(
	    G_POLLABLE_INPUT_STREAM(SP_COUNTING_INPUT(stream)->base));
}

static GSource *counting_input_create_source(GPollableInputStream *stream,
					     GCancellable *cancellable)
{
	SpCountingInput *self = SP_COUNTING_INPUT(stream);
	g_autoptr(GSource) base =
	    g_pollable_input_stream_create_source(G_POLLABLE_INPUT_STREAM(self->base), cancellable);

	return g_pollable_source_new_full(stream, base, cancellable);
}

static gssize counting_input_read_nonblocking(GPollableInputStream *stream, void *buffer,
					      gsize count, GError **error)
{
	SpCountingInput *self = SP_COUNTING_INPUT(stream);
	gssize n;

	if (counting_input_over(self, error))
		return -1;
	n = g_pollable_input_stream_read_nonblocking(G_POLLABLE_INPUT_STREAM(self->base), buffer,
						     count, NULL, error);
	if (n > 0)
		self->read += (gsize)n;
	return n;
}

static void counting_input_pollable_init(GPollableInputStreamInterface *iface)
{
	iface->can_poll = counting_input_can_poll;
	iface->is_readable = counting_input_is_readable;
	iface->create_source = counting_input_create_source;
	iface->read_nonblocking = counting_input_read_nonblocking;
}

static void counting_input_finalize(GObject *object)
{
	g_clear_object(&SP_COUNTING_INPUT(object)->base);
	G_OBJECT_CLASS(sp_counting_input_parent_class)->finalize(object);
}

static void sp_counting_input_class_init(SpCountingInputClass *klass)
{
	GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = counting_input_finalize;
	stream_class->read_fn = counting_input_read;
	stream_class->close_fn = counting_input_close;
}

static void sp_counting_input_init(SpCountingInput *self)
{
}

/* ---- output --------------------------------------------------------------------------------- */

static gssize counting_output_write(GOutputStream *stream, const void *buffer, gsize count,
				    GCancellable *cancellable, GError **error)
{
	SpCountingOutput *self = SP_COUNTING_OUTPUT(stream);
	gssize n = g_output_stream_write(self->base, buffer, count, cancellable, error);

	if (n > 0)
		self->written += (guint64)n;
	return n;
}

static gboolean counting_output_flush(GOutputStream *stream, GCancellable *cancellable,
				      GError **error)
{
	return g_output_stream_flush(SP_COUNTING_OUTPUT(stream)->base, cancellable, error);
}

/* The base stream is closed with the GIOStream that owns it, not here. */
static gboolean counting_output_close(GOutputStream *stream, GCancellable *cancellable,
				      GError **error)
{
	return TRUE;
}

static gboolean counting_output_can_poll(GPollableOutputStream *stream)
{
	SpCountingOutput *self = SP_COUNTING_OUTPUT(stream);

	return G_IS_POLLABLE_OUTPUT_STREAM(self->base) &&
	       g_pollable_output_stream_can_poll(G_POLLABLE_OUTPUT_STREAM(self->base));
}

static gboolean counting_output_is_writable(GPollableOutputStream *stream)
{
	return g_pollable_output_stream_is_writable(
	    G_POLLABLE_OUTPUT_STREAM(SP_COUNTING_OUTPUT(stream)->base));
}

static GSource *counting_output_create_source(GPollableOutputStream *stream,
					      GCancellable *cancellable)
{
	SpCountingOutput *self = SP_COUNTING_OUTPUT(stream);
	g_autoptr(GSource) base = g_pollable_output_stream_create_source(
	    G_POLLABLE_OUTPUT_STREAM(self->base), cancellable);

	/* The callback is given this stream, not the base. */
	return g_pollable_source_new_full(stream, base, cancellable);
}

static gssize counting_output_write_nonblocking(GPollableOutputStream *stream, const void *buffer,
						gsize count, GError **error)
{
	SpCountingOutput *self = SP_COUNTING_OUTPUT(stream);
	gssize n = g_pollable_output_stream_write_nonblocking(G_POLLABLE_OUTPUT_STREAM(self->base),
							      buffer, count, NULL, error);

	if (n > 0)
		self->written += (guint64)n;
	return n;
}

static void counting_output_pollable_init(GPollableOutputStreamInterface *iface)
{
	iface->can_poll = counting_output_can_poll;
	iface->is_writable = counting_output_is_writable;
	iface->create_source = counting_output_create_source;
	iface->write_nonblocking = counting_output_write_nonblocking;
}

static void counting_output_finalize(GObject *object)
{
	g_clear_object(&SP_COUNTING_OUTPUT(object)->base);
	G_OBJECT_CLASS(sp_counting_output_parent_class)->finalize(object);
}

static void sp_counting_output_class_init(SpCountingOutputClass *klass)
{
	GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = counting_output_finalize;
	stream_class->write_fn = counting_output_write;
	stream_class->flush = counting_output_flush;
	stream_class->close_fn = counting_output_close;
}

static void sp_counting_output_init(SpCountingOutput *self)
{
}

/* ---- the pair ------------------------------------------------------------------------------- */

static GInputStream *counting_stream_get_input(GIOStream *stream)
{
	return G_INPUT_STREAM(SP_COUNTING_STREAM(stream)->input);
}

static GOutputStream *counting_stream_get_output(GIOStream *stream)
{
	return G_OUTPUT_STREAM(SP_COUNTING_STREAM(stream)->output);
}

static gboolean counting_stream_close(GIOStream *stream, GCancellable *cancellable, GError **error)
{
	return g_io_stream_close(SP_COUNTING_STREAM(stream)->base, cancellable, error);
}

static void on_base_closed(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;

	if (g_io_stream_close_finish(G_IO_STREAM(source), res, &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, error);
}

/* GIOStream's own asynchronous close would run the blocking one in a thread. */
static void counting_stream_close_async(GIOStream *stream, int priority, GCancellable *cancellable,
					GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(stream, cancellable, callback, user_data);

	g_io_stream_close_async(SP_COUNTING_STREAM(stream)->base, priority, cancellable,
				on_base_closed, task);
}

static gboolean counting_stream_close_finish(GIOStream *stream, GAsyncResult *result,
					     GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void counting_stream_finalize(GObject *object)
{
	SpCountingStream *self = SP_COUNTING_STREAM(object);

	g_clear_object(&self->input);
	g_clear_object(&self->output);
	g_clear_object(&self->base);
	G_OBJECT_CLASS(sp_counting_stream_parent_class)->finalize(object);
}

static void sp_counting_stream_class_init(SpCountingStreamClass *klass)
{
	GIOStreamClass *stream_class = G_IO_STREAM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = counting_stream_finalize;
	stream_class->get_input_stream = counting_stream_get_input;
	stream_class->get_output_stream = counting_stream_get_output;
	stream_class->close_fn = counting_stream_close;
	stream_class->close_async = counting_stream_close_async;
	stream_class->close_finish = counting_stream_close_finish;
}

static void sp_counting_stream_init(SpCountingStream *self)
{
}

GIOStream *sp_counting_stream_new(GIOStream *base, gsize read_limit)
{
	SpCountingStream *self = g_object_new(SP_TYPE_COUNTING_STREAM, NULL);

	self->base = g_object_ref(base);
	self->input = g_object_new(SP_TYPE_COUNTING_INPUT, NULL);
	self->input->base = g_object_ref(g_io_stream_get_input_stream(base));
	self->input->limit = read_limit;
	self->output = g_object_new(SP_TYPE_COUNTING_OUTPUT, NULL);
	self->output->base = g_object_ref(g_io_stream_get_output_stream(base));
	return G_IO_STREAM(self);
}

guint64 sp_counting_stream_get_written(SpCountingStream *stream)
{
	return stream->output->written;
}

void sp_counting_stream_reset_read(SpCountingStream *stream)
{
	stream->input->read = 0;
}
