/* jitter: being written. */
#include "daemon/media/jitter.h"

typedef int sp_jitter_placeholder;
