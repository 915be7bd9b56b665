/* resample: being written. */
#pragma once
