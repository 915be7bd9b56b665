/* rtcp: being written. */
#pragma once
