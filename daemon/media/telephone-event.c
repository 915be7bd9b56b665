/* telephone-event: being written. */
#include "daemon/media/telephone-event.h"

typedef int sp_telephone_event_placeholder;
