"""Virtual BLE health devices: a simulated patient's wearables as real GATT peripherals.

Two halves, kept apart so the timing and the bytes can be tested without a radio:

* **pure** (:mod:`.identity`, :mod:`.messages`, :mod:`.schedule`, :mod:`.clock`, :mod:`.racp`,
  :mod:`.features`): which device a patient has, what it sends when (an ordered stream of
  :class:`~.schedule.Emission` and :class:`~.schedule.LinkEvent` in simulated time, encoded with
  the contract's GATT encoders), how simulated time maps to the wall clock at a speed factor;
* **bumble I/O** (:mod:`.services`, :mod:`.peripheral`, :mod:`.link`, :mod:`.fleet`): GATT
  databases, advertising, notifications and indications, on bumble's virtual ``LocalLink`` or on
  a real HCI controller through any bumble transport (``usb:0``, ``serial:...``).

See docs/simulators.md, "Virtual BLE devices".
"""
