/* telephone-event: being written. */
#pragma once
