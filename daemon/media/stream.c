/* stream: being written. */
#include "daemon/media/stream.h"

typedef int sp_stream_placeholder;
