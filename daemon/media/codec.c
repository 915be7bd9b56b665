/* codec: being written. */
#include "daemon/media/codec.h"

typedef int sp_codec_placeholder;
