/* audio-alsa: being written. */
#include "daemon/media/audio-alsa.h"

typedef int sp_audio_alsa_placeholder;
