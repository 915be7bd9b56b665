/* resample: being written. */
#include "daemon/media/resample.h"

typedef int sp_resample_placeholder;
