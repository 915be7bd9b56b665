/* dtmf-inband: being written. */
#include "daemon/media/dtmf-inband.h"

typedef int sp_dtmf_inband_placeholder;
