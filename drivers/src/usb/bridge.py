#!/usr/bin/python3
# One USB device on a bus emulated with umockdev: see sim.rs beside this file.
#
# It answers the usbfs ioctls libusb makes on the device's node (claim, submit, reap and
# discard URBs, string descriptors) and has no device logic of its own. Run as
# `bridge.py printer` it is the USB side of the virtual ESC/POS printer, its cable: what the
# driver sends on the bulk OUT endpoint goes to the virtual printer over TCP, and what the
# virtual printer answers comes back on the bulk IN endpoint. The printer is on the bus only
# while the virtual printer takes the connection: power the virtual printer off and the device
# is unplugged (a "remove" uevent, its node answers ENODEV); power it on and the device is
# plugged in again under a new device number, as a real hub does. Run as
# `bridge.py hid-pos-scanner` it is a barcode scanner in HID POS mode, on the bus from the
# start, whose interrupt IN endpoint delivers the reports the test hands it, one per transfer.
#
# It must itself run under umockdev-wrapper: umockdev's uevents are built from the testbed's
# sysfs, which only a preloaded process sees.
#
# Protocol, on stdout: "root DIR" once the testbed exists. On the unix socket DIR/bridge.sock,
# one command per line, one answer line each:
#   connect HOST:PORT   bridge the printer to the virtual printer there  -> "ok"
#   report HEX          queue bytes on the IN endpoint (the scanner's reports)  -> "ok"
#   unplug / plug       take the device off the bus, or put it on under a new address -> "ok"
#   state               -> "plugged N out=BYTES in=BYTES" or "unplugged out=… in=…"
# It exits when its standard input closes.

import errno
import os
import queue
import shutil
import socket
import struct
import sys
import threading
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402


def _ioc(direction, number, size):
    return (direction << 30) | (size << 16) | (ord("U") << 8) | number


# linux/usbdevice_fs.h, x86_64 sizes (struct usbdevfs_urb is 56 bytes).
SUBMITURB = _ioc(2, 10, 56)
DISCARDURB = _ioc(0, 11, 0)
REAPURB = _ioc(1, 12, 8)
REAPURBNDELAY = _ioc(1, 13, 8)
CLAIMINTERFACE = _ioc(2, 15, 4)
RELEASEINTERFACE = _ioc(2, 16, 4)
SETCONFIGURATION = _ioc(2, 5, 4)
GETDRIVER = _ioc(1, 8, 260)
IOCTL = _ioc(3, 18, 16)
RESET = _ioc(0, 20, 0)
CLEAR_HALT = _ioc(2, 21, 4)
GET_CAPABILITIES = _ioc(2, 26, 4)
DISCONNECT_CLAIM = _ioc(2, 27, 264)
# Zero-length packets, bulk continuation, no packet size limit, reap after disconnect.
CAPABILITIES = 0x01 | 0x02 | 0x04 | 0x10
URB_TYPE_CONTROL = 2

def device_descriptor(product):
    # USB 2.0, class per interface, 64-byte control packets, pid.codes' test vendor, strings
    # 1-3 (manufacturer, product, serial), one configuration.
    return struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, 0x1209, product, 0x0100, 1, 2, 3, 1)


def configuration(*interface):
    body = b"".join(interface)
    return struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), 1, 1, 0, 0xC0, 50) + body


# What each kind of device the bridge can be looks like on the bus.
PERSONALITIES = {
    # A printer (class 7, subclass 1) speaking the bidirectional protocol (2), with bulk OUT
    # 0x01 and bulk IN 0x82 of 64-byte packets. Its IN data is a byte stream.
    "printer": {
        "descriptors": device_descriptor(0x0001)
        + configuration(
            struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 2, 7, 1, 2, 0),
            struct.pack("<BBBBHB", 7, 5, 0x01, 2, 64, 0),
            struct.pack("<BBBBHB", 7, 5, 0x82, 2, 64, 0),
        ),
        "strings": {1: "Balcao", 2: "Virtual ESC/POS printer", 3: "VP0001"},
        "packet": None,
    },
    # A barcode scanner in HID POS mode: a HID interface (class 3, no boot protocol) with its
    # HID descriptor and one interrupt IN endpoint 0x81 of 64 bytes. Each IN transfer carries
    # one 64-byte report.
    "hid-pos-scanner": {
        "descriptors": device_descriptor(0x0002)
        + configuration(
            struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 1, 3, 0, 0, 0),
            struct.pack("<BBHBBBH", 9, 0x21, 0x0111, 0, 1, 0x22, 0),
            struct.pack("<BBBBHB", 7, 5, 0x81, 3, 64, 1),
        ),
        "strings": {1: "Balcao", 2: "Virtual HID POS scanner", 3: "VS0001"},
        "packet": 64,
    },
}

SYSPATH = "/sys/devices/usb1/1-1"


class Urb:
    """A URB a client submitted: where it came from, and how it ended once it did."""

    def __init__(self, devnode, urb, buffer, length):
        self.devnode, self.urb, self.buffer, self.length = devnode, urb, buffer, length
        self.status, self.data, self.actual = 0, None, 0

    def finish(self, status, data=None, actual=0):
        self.status, self.data, self.actual = status, data, actual
        return self


class Device:
    """The one USB device: its URBs, its link to a virtual device, its place on the bus."""

    def __init__(self, testbed, personality):
        self.testbed = testbed
        self.descriptors = personality["descriptors"]
        self.strings = personality["strings"]
        self.packet = personality["packet"]
        self.lock = threading.Lock()
        self.devnum = 1
        self.devnode = None  # set while plugged
        self.link = None
        self.inbox = bytearray()  # from the printer, not yet asked for
        self.waiting_in = []  # IN URBs waiting for bytes
        self.reapable = []  # finished URBs, in the order they finished
        self.outgoing = queue.Queue()
        self.carried_out = 0
        self.carried_in = 0
        self.handler = UMockdev.IoctlBase()
        self.handler.connect("handle-ioctl", self.on_ioctl)
        threading.Thread(target=self.write_out, daemon=True).start()

    # The bus.

    def plug(self):
        self.devnum += 1
        devnode = "/dev/bus/usb/001/%03d" % self.devnum
        self.testbed.attach_ioctl(devnode, self.handler)
        self.testbed.add_from_string(
            "P: /devices/usb1/1-1\n"
            "N: bus/usb/001/%03d\n"
            "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: BUSNUM=001\nE: DEVNUM=%03d\n"
            "E: DEVNAME=%s\n"
            "A: busnum=1\\n\nA: devnum=%d\\n\nA: bConfigurationValue=1\\n\nA: speed=12\\n\n"
            "H: descriptors=%s\n"
            % (self.devnum, self.devnum, devnode, self.devnum, self.descriptors.hex())
        )
        with self.lock:
            self.devnode = devnode

    def unplug(self):
        with self.lock:
            if self.devnode is None:
                return
            self.devnode = None
            # URBs in flight end as the kernel ends them when a device goes away.
            self.reapable.extend(u.finish(-errno.ESHUTDOWN) for u in self.waiting_in)
            self.waiting_in.clear()
            self.inbox.clear()
        self.testbed.uevent(SYSPATH, "remove")
        self.testbed.remove_device(SYSPATH)

    # The cable to the virtual printer.

    def bridge(self, address):
        host, port = address.rsplit(":", 1)
        threading.Thread(target=self.follow, args=(host, int(port)), daemon=True).start()

    def follow(self, host, port):
        while True:
            try:
                link = socket.create_connection((host, port), timeout=0.5)
            except OSError:
                time.sleep(0.1)
                continue
            # A printer that is off takes the connection and drops it at once: not on the bus.
            link.settimeout(0.1)
            try:
                first = link.recv(4096)
                if not first:
                    link.close()
                    time.sleep(0.1)
                    continue
            except socket.timeout:
                first = b""
            link.settimeout(None)
            with self.lock:
                self.link = link
                self.inbox.extend(first)
            self.on_main_loop(self.plug)
            while True:
                try:
                    data = link.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    break
                with self.lock:
                    self.inbox.extend(data)
            with self.lock:
                self.link = None
            link.close()
            self.on_main_loop(self.unplug)

    @staticmethod
    def on_main_loop(action):
        # The testbed and the ioctl handler live on the main loop's thread.
        done = threading.Event()
        GLib.idle_add(lambda: action() or done.set() or False)
        done.wait()

    def write_out(self):
        # An OUT URB completes once the printer took its bytes, as USB flow control does.
        while True:
            urb, data = self.outgoing.get()
            with self.lock:
                link = self.link
            try:
                if link is None:
                    raise OSError("no printer")
                link.sendall(data)
                finished = urb.finish(0, None, len(data))
            except OSError:
                finished = urb.finish(-errno.EPROTO)
            with self.lock:
                self.carried_out += finished.actual
                self.reapable.append(finished)

    # usbfs.

    def on_ioctl(self, handler, client):
        try:
            return self.answer(client)
        except GLib.Error:
            # The client went away mid-call (its test ended): there is nobody to answer.
            return True

    def answer(self, client):
        request = client.get_request()
        devnode = client.get_devnode()
        with self.lock:
            gone = devnode != self.devnode
        if gone:
            # A node whose device went away answers nothing but ENODEV, except the URBs it
            # still owes (reap after disconnect).
            if request in (REAPURB, REAPURBNDELAY) and self.reap(client):
                return True
            client.complete(-1, errno.ENODEV)
            return True
        arg = client.get_arg()
        if request == GET_CAPABILITIES:
            arg.resolve(0, 4).update(0, list(struct.pack("<I", CAPABILITIES)))
            client.complete(0, 0)
        elif request in (CLAIMINTERFACE, RELEASEINTERFACE, SETCONFIGURATION, RESET, CLEAR_HALT, DISCONNECT_CLAIM):
            client.complete(0, 0)
        elif request in (GETDRIVER, IOCTL):
            client.complete(-1, errno.ENODATA)  # no kernel driver is bound
        elif request == SUBMITURB:
            self.submit(client, devnode, arg)
        elif request == DISCARDURB:
            address = struct.unpack("<Q", bytes(arg.retrieve()))[0]
            with self.lock:
                found = [u for u in self.waiting_in if u.devnode == devnode and u.urb.client_addr == address]
                for urb in found:
                    self.waiting_in.remove(urb)
                    self.reapable.append(urb.finish(-errno.ENOENT))
            client.complete(0, 0) if found else client.complete(-1, errno.EINVAL)
        elif request in (REAPURB, REAPURBNDELAY):
            if not self.reap(client):
                client.complete(-1, errno.EAGAIN)
        else:
            client.complete(-1, errno.ENOTTY)
        return True

    def submit(self, client, devnode, arg):
        fields_data = arg.resolve(0, 56)
        fields = bytes(fields_data.retrieve())
        kind, endpoint = fields[0], fields[1]
        length = struct.unpack_from("<i", fields, 24)[0]
        urb = Urb(devnode, fields_data, fields_data.resolve(16, length), length)
        if kind == URB_TYPE_CONTROL:
            setup = bytes(urb.buffer.retrieve())[:8]
            data = self.control(setup)
            with self.lock:
                if data is None:
                    self.reapable.append(urb.finish(-errno.EPIPE))  # a stall
                else:
                    self.reapable.append(urb.finish(0, setup + data, len(data)))
        elif endpoint & 0x80:
            with self.lock:
                self.waiting_in.append(urb)
        else:
            self.outgoing.put((urb, bytes(urb.buffer.retrieve())))
        client.complete(0, 0)

    def control(self, setup):
        request_type, request, value, _index, length = struct.unpack("<BBHHH", setup)
        if request_type == 0x80 and request == 6 and value >> 8 == 3:  # GET_DESCRIPTOR string
            number = value & 0xFF
            if number == 0:
                body = struct.pack("<H", 0x0409)
            elif number in self.strings:
                body = self.strings[number].encode("utf-16-le")
            else:
                return None
            return (bytes([2 + len(body), 3]) + body)[:length]
        return None

    def reap(self, client):
        devnode = client.get_devnode()
        with self.lock:
            waiting = [u for u in self.waiting_in if u.devnode == devnode]
            if waiting and self.inbox:
                urb = waiting[0]
                self.waiting_in.remove(urb)
                take = min(urb.length, self.packet or urb.length)
                data = bytes(self.inbox[:take])
                del self.inbox[:take]
                self.carried_in += len(data)
                self.reapable.append(urb.finish(0, data, len(data)))
            mine = [u for u in self.reapable if u.devnode == devnode]
            if not mine:
                return False
            urb = mine[0]
            self.reapable.remove(urb)
        if urb.data:
            urb.buffer.update(0, list(urb.data))
        urb.urb.update(4, list(struct.pack("<i", urb.status)))
        urb.urb.update(28, list(struct.pack("<i", urb.actual)))
        client.get_arg().resolve(0, 8).set_ptr(0, urb.urb)
        client.complete(0, 0)
        return True

    def report(self, data):
        # What a scanner sends by itself, queued for the next IN transfers.
        with self.lock:
            if self.devnode is None:
                return False
            self.inbox.extend(data)
            return True

    def state(self):
        with self.lock:
            where = "plugged %d" % self.devnum if self.devnode else "unplugged"
            return "%s out=%d in=%d" % (where, self.carried_out, self.carried_in)


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "printer"
    testbed = UMockdev.Testbed.new()
    device = Device(testbed, PERSONALITIES[kind])
    if kind != "printer":
        device.plug()  # a scanner is on the bus from the start; the tests unplug it
    root = testbed.get_root_dir()
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(os.path.join(root, "bridge.sock"))
    control.listen()

    def command(words):
        if words[:1] == ["connect"] and len(words) == 2:
            device.bridge(words[1])
            return "ok"
        if words == ["state"]:
            return device.state()
        if words[:1] == ["report"] and len(words) == 2:
            return "ok" if device.report(bytes.fromhex(words[1])) else "error unplugged"
        if words == ["unplug"]:
            device.on_main_loop(device.unplug)
            return "ok"
        if words == ["plug"]:
            device.on_main_loop(device.plug)
            return "ok"
        return "error unknown command %r" % " ".join(words)

    def serve_control():
        while True:
            connection, _ = control.accept()
            with connection, connection.makefile("rw") as lines:
                for line in lines:
                    try:
                        answer = command(line.split())
                    except ValueError as e:
                        answer = "error %s" % e
                    lines.write(answer + "\n")
                    lines.flush()

    threading.Thread(target=serve_control, daemon=True).start()
    loop = GLib.MainLoop()
    GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, lambda *_: loop.quit() or False)
    print("root " + root, flush=True)
    loop.run()
    # The testbed's folder goes with it: Python may never finalise the testbed at exit.
    control.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
