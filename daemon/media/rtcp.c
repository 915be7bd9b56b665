/* rtcp: being written. */
#include "daemon/media/rtcp.h"

typedef int sp_rtcp_placeholder;
