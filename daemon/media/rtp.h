/* rtp: being written. */
#pragma once
