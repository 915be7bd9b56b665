/* codec: being written. */
#pragma once
