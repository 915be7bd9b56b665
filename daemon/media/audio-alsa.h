/* audio-alsa: being written. */
#pragma once
