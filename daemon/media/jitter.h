/* jitter: being written. */
#pragma once
