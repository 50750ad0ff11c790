"""The BLE profiles imu-tempo speaks, by command-line name.

=============  ===========================================================================
``nus``        our own firmware over the Nordic UART Service (one wire frame per notification)
``polar``      Polar Measurement Data accelerometer (H10 raw frames, Verity Sense delta frames)
``movesense``  Movesense sensors with the GATT SensorData app (``/Meas/Acc/{rate}``)
=============  ===========================================================================

The order of :data:`PROFILES` is the order in which an unknown device is matched.
"""

from __future__ import annotations

from .base import (
    PREFERRED_FS_HZ,
    Decoder,
    DeviceBusy,
    Frame,
    Profile,
    ProfileMismatch,
    StartFailed,
    Stream,
)
from .movesense import MovesenseProfile
from .nus import NusProfile
from .polar import PolarProfile

PROFILES: dict[str, Profile] = {
    p.name: p for p in (NusProfile(), PolarProfile(), MovesenseProfile())
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``, or ``ProfileMismatch`` listing the known names."""
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise ProfileMismatch(
            f"unknown BLE profile {name!r}; known profiles: {', '.join(PROFILES)}"
        ) from None


def guess_profile(*, name: str | None, service_uuids: list[str] | tuple[str, ...]) -> Profile | None:
    """The first profile whose advertisement rule fits, or None."""
    for profile in PROFILES.values():
        if profile.matches_advertisement(name=name, service_uuids=service_uuids):
            return profile
    return None


def profiles_for_services(service_uuids: set[str]) -> list[Profile]:
    """Every profile whose GATT service the connected device has, in matching order."""
    return [p for p in PROFILES.values() if p.matches_services(service_uuids)]


__all__ = [
    "PREFERRED_FS_HZ",
    "PROFILES",
    "Decoder",
    "DeviceBusy",
    "Frame",
    "Profile",
    "ProfileMismatch",
    "StartFailed",
    "Stream",
    "get_profile",
    "guess_profile",
    "profiles_for_services",
]
