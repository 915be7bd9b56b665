/* rtp-stats: being written. */
#include "daemon/media/rtp-stats.h"

typedef int sp_rtp_stats_placeholder;
