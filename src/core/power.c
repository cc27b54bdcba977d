/* Names of power events (see vmio/power.h). */
#include "vmio/power.h"

const char *vmio_power_event_name(enum vmio_power_event event)
{
    switch (event) {
    case VMIO_POWER_OFF:
        return "poweroff";
    case VMIO_POWER_RESET:
        return "reset";
    }
    return "?";
}
