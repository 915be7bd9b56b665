/* rtp: being written. */
#include "daemon/media/rtp.h"

typedef int sp_rtp_placeholder;
