#!/bin/sh
# Makes a copy of Debian 12's virtualsmartcard (vsmartcard-vpicc 0.8) that runs on Python 3 as an
# ICAO ePass emulator, for the identity reader's interop test: vicc is the independent card we
# read DG1 from through pcscd. Debian's package still carries Python 2 string handling in the
# ePass paths and imports pycryptodome under its other name; this patches a copy, never the
# installed files.
#
# Usage: vicc-py3.sh OUTDIR
# Then:  VICC_MRZ='<88-character TD3 zone>' PYTHONPATH=OUTDIR /usr/bin/python3 /usr/bin/vicc -t ePass
set -eu
out=${1:?usage: vicc-py3.sh OUTDIR}
src=/usr/lib/python3/site-packages/virtualsmartcard/virtualsmartcard
[ -d "$src" ] || { echo "vicc-py3: $src is missing: tools/setup installs vsmartcard-vpicc" >&2; exit 1; }
rm -rf "$out/virtualsmartcard"
mkdir -p "$out"
cp -r "$src" "$out/virtualsmartcard"
/usr/bin/python3 - "$out/virtualsmartcard" <<'PY'
import pathlib
import sys

root = pathlib.Path(sys.argv[1])


def patch(name, replacements):
    path = root / name
    text = path.read_text()
    for old, new in replacements:
        if old not in text:
            raise SystemExit(f"vicc-py3: {name} no longer contains {old!r}: the package changed")
        text = text.replace(old, new)
    path.write_text(text)


patch("CryptoUtils.py", [
    # Debian packages pycryptodome as Cryptodome.
    ("from Crypto.", "from Cryptodome."),
    # The send sequence counter must always be 8 bytes; leading zero bytes were dropped, so
    # about one session in 256 failed its MAC.
    ("data = inttostring(ssc) + data", "data = inttostring(ssc, 8) + data"),
    ('    result = []\n    for i in range(len(string1)):\n        result.append(chr(op(ord(string1[i]), ord(string2[i]))))\n    return "".join(result)',
     '    return bytes([op(a, b) for a, b in zip(string1, string2)])'),
])
patch("TLVutils.py", [('    return b"".join(result)', '    return bytes(result)')])
patch("SEutils.py", [
    ('return_data = ["", ]', 'return_data = [b"", ]'),
    ('"".join(return_data)', 'b"".join(return_data)'),
    ('to_authenticate = ""', 'to_authenticate = b""'),
    ('return_data = ""', 'return_data = b""'),
    ('if result != "":', 'if result != b"":'),
    ('encrypted = "\\x01" + encrypted', 'encrypted = b"\\x01" + encrypted'),
    ('assert response_data == ""', 'assert response_data == b""'),
    ('padding_indicator = stringtoint(value[0])', 'padding_indicator = value[0]'),
])
patch("SmartcardFilesystem.py", [
    ('dfname=None, data=""):', 'dfname=None, data=b""):'),
    ('shortfid=0, data=""):', 'shortfid=0, data=b""):'),
    ('identifier=None, data=""):', 'identifier=None, data=b""):'),
    ('newvalue[:2] == "\\x3f\\x00"', 'newvalue[:2] == b"\\x3f\\x00"'),
])
patch("utils.py", [('        self.data = ""', '        self.data = b""')])
# While the file $VICC_HOLD names exists, the card holds its answer: a test pulls the card
# (kills vicc) in the middle of an exchange.
patch("VirtualSmartcard.py", [(
    "                answer = self.os.execute(msg)\n",
    "                answer = self.os.execute(msg)\n"
    "                import os, time\n"
    "                while os.path.exists(os.environ.get('VICC_HOLD', '/nonexistent')):\n"
    "                    time.sleep(0.02)\n",
)])
patch("cards/ePass.py", [('vsFS.walk(mf, "\\x00\\x04\\x01\\x01")', 'vsFS.walk(mf, b"\\x00\\x04\\x01\\x01")')])
# The ePass is generated without asking: the zone from $VICC_MRZ, no photo (the DG2 builder is
# still Python 2 code), so DG2 is empty.
patch("CardGenerator.py", [
    ('MRZ = raw_input("Please enter the MRZ as one string: ")', 'import os; MRZ = os.environ["VICC_MRZ"].encode("ascii")'),
    ('picturepath = raw_input("Please enter the path to an image: ")', 'picturepath = os.environ.get("VICC_PHOTO", "/nonexistent")'),
    ("dfname='\\xa0\\x00\\x00\\x02G\\x10\\x01'", "dfname=b'\\xa0\\x00\\x00\\x02G\\x10\\x01'"),
    ('            DG2 = ""', '            DG2 = b""'),
    ('filedescriptor=0, data=""))', 'filedescriptor=0, data=b""))'),
])
PY
