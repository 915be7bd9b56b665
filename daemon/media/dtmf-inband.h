/* dtmf-inband: being written. */
#pragma once
