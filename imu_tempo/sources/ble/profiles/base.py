"""What a BLE profile is: a decoder plus the start/stop sequence of one wearable protocol.

A :class:`Profile` knows three things about a device family:

* how to recognise it (advertised service UUIDs or name, then the GATT services),
* how to start and stop its accelerometer stream (``start`` / ``stop``, which run on
  the event loop and talk to the device through a connected :class:`bleak.BleakClient`),
* how to turn one notification into samples (the :class:`Decoder` that ``start`` returns).

Decoders are pure: bytes in, a :class:`Frame` out, or :class:`~imu_tempo.errors.PacketDecodeError`.
They never look at the host clock.  Placing samples on the session's time axis (spreading a
frame's timestamp over its samples, unwrapping counters, detecting gaps) is the job of
:class:`~imu_tempo.sources.ble.timeline.Timeline`, shared by every profile.

Units: a frame's ``accel`` is in m/s^2 and ``gyro`` in rad/s whatever the device sends;
each decoder converts (mG, g, deg/s ...) with the factors documented in ``firmware_notes/ble.md``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ....errors import SourceError

if TYPE_CHECKING:  # pragma: no cover
    from bleak import BleakClient

#: Standard gravity (m/s^2): 1 g.  Used for g and mG conversions.
G_MPS2 = 9.80665

#: The sample rate a profile asks for when the caller gives none: the rate the device offers
#: closest to this.  100 Hz is plenty for rep tempo (human motion is below ~20 Hz).
PREFERRED_FS_HZ = 100.0

TimeRef = Literal["first", "last"]


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """The samples of one notification, in device units already converted to SI.

    Attributes
    ----------
    accel : ndarray, shape (n, 3)
        Specific force in m/s^2.
    gyro : ndarray, shape (n, 3), or None
        Angular rate in rad/s.
    t_ref : float or None
        Raw device timestamp in *device seconds* (before unwrapping) of the sample named by
        ``ref``; None if the protocol carries no time.
    ref : {"first", "last"} or None
        Which sample ``t_ref`` belongs to (NUS and Movesense: first; Polar: last).
    t_wrap_s : float or None
        Period after which ``t_ref`` wraps (u32 microseconds: 4294.967296 s), or None.
    seq : int or None
        Per-notification sequence counter, when the protocol has one.
    seq_mod : int
        Modulus of ``seq`` (65536 for a u16).
    """

    accel: np.ndarray
    gyro: np.ndarray | None
    t_ref: float | None
    ref: TimeRef | None
    t_wrap_s: float | None = None
    seq: int | None = None
    seq_mod: int = 65536

    def __len__(self) -> int:
        return int(self.accel.shape[0])


class Decoder(abc.ABC):
    """Turns one notification payload into a :class:`Frame` (called in the notification callback).

    Implementations must be cheap and must not block: they run on the event loop, inside
    bleak's notification callback.  Errors are raised as ``PacketDecodeError``; the caller
    queues them for the consumer.
    """

    fs_hz: float

    @abc.abstractmethod
    def decode(self, data: bytes) -> Frame | None:
        """Decode one notification; ``None`` for a valid notification that carries no samples."""


@dataclass(slots=True)
class Stream:
    """What ``Profile.start`` returns: the running stream of one connection."""

    decoder: Decoder
    fs_hz: float
    description: str
    gyro: bool
    details: dict[str, Any] = field(default_factory=dict)
    #: Filled by profiles whose control channel can report "the device stopped the stream".
    stopped_by_device: Callable[[], bool] | None = None


class ProfileMismatch(SourceError):
    """The device does not speak the profile that was asked for (or none that imu-tempo knows)."""


class DeviceBusy(SourceError):
    """The device is in use by another app or central and refused to stream."""


class StartFailed(SourceError):
    """The device refused the start sequence (bad setting, unsupported measurement, ...)."""


NotifyCallback = Callable[[bytes], None]
ControlCallback = Callable[[str, str], None]  # (kind, message) for device-initiated events


class Profile(abc.ABC):
    """One wearable protocol.  Subclasses are stateless; per-connection state lives in ``Stream``."""

    #: Short name used on the command line (``--profile polar``).
    name: ClassVar[str]
    #: Human-readable title for messages and ``scan``.
    title: ClassVar[str]
    #: The GATT service that identifies the protocol (lowercase 128-bit UUID).
    service_uuid: ClassVar[str]
    #: Advertised-name prefixes that identify the device family when the advertisement
    #: does not list the service (Polar sensors advertise the heart-rate service only).
    name_prefixes: ClassVar[tuple[str, ...]] = ()

    def matches_advertisement(self, *, name: str | None, service_uuids: list[str] | tuple[str, ...]) -> bool:
        """True when an advertisement says this profile fits (service UUID or name prefix)."""
        if self.service_uuid in {u.lower() for u in service_uuids}:
            return True
        return bool(name) and any(name.startswith(p) for p in self.name_prefixes)

    def matches_services(self, service_uuids: set[str]) -> bool:
        """True when the connected device's GATT table has this profile's service."""
        return self.service_uuid in service_uuids

    @abc.abstractmethod
    async def start(
        self,
        client: BleakClient,
        *,
        fs_hz: float | None,
        on_data: NotifyCallback,
        on_control: ControlCallback,
    ) -> Stream:
        """Enable notifications and start the accelerometer stream.

        Parameters
        ----------
        client : bleak.BleakClient
            Connected client; services are discovered.
        fs_hz : float or None
            Requested sample rate; ``None`` picks the offered rate closest to
            :data:`PREFERRED_FS_HZ`.  A rate the device does not offer raises ``StartFailed``
            naming the rates it offers.
        on_data : callable(bytes)
            Called (on the event loop) with every data notification, possibly before
            ``start`` returns; the caller buffers until the decoder exists.
        on_control : callable(kind, message)
            Called for device-initiated control events (``"stopped"``: the device ended the stream).

        Raises
        ------
        StartFailed, DeviceBusy
            With a message that names the device's answer and what to do.
        """

    @abc.abstractmethod
    async def stop(self, client: BleakClient, stream: Stream) -> None:
        """Stop the stream and disable notifications (best effort; the link may be gone)."""


def pick_rate(offered: list[float] | tuple[float, ...], fs_hz: float | None, *, device: str) -> float:
    """Choose a sample rate among those a device offers.

    ``fs_hz=None`` takes the offered rate closest to :data:`PREFERRED_FS_HZ` (ties: the faster);
    an explicit rate must be offered (within 0.5 Hz) or ``StartFailed`` lists the choices.
    """
    if not offered:
        raise StartFailed(f"{device} offers no accelerometer sample rate")
    rates = sorted(float(r) for r in offered)
    if fs_hz is None:
        return min(rates, key=lambda r: (abs(r - PREFERRED_FS_HZ), -r))
    for r in rates:
        if abs(r - fs_hz) <= 0.5:
            return r
    listed = ", ".join(f"{r:g}" for r in rates)
    raise StartFailed(f"{device} cannot stream at {fs_hz:g} Hz; it offers {listed} Hz")


def as_xyz(values: np.ndarray, n: int) -> np.ndarray:
    """Reshape a flat array of x,y,z triplets to (n, 3) float64."""
    return np.asarray(values, dtype=np.float64).reshape(n, 3)
