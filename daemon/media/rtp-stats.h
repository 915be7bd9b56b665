/* rtp-stats: being written. */
#pragma once
