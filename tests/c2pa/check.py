"""Reads Pentimento's signed exports with c2pa-python (an independent build of the C2PA SDK) and
checks what they say. Run by .ci/c2pa-reader:

    check.py SIGNED.png HIDDEN.png TAMPERED.png LOCAL-ROOT.pem

SIGNED was exported with the defaults (prompt shown, training notAllowed), HIDDEN with
--hide-prompt --training allowed, TAMPERED is SIGNED with one byte of its pixels changed.
"""

import json
import struct
import sys
import zlib

import c2pa

SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def read(path, root=None):
    context = c2pa.Context.from_dict({"trust": {"user_anchors": root}}) if root else None
    with open(path, "rb") as stream:
        reader = c2pa.Reader("image/png", stream, context=context) if context else c2pa.Reader("image/png", stream)
        return json.loads(reader.json())


def text_chunks(path):
    data = open(path, "rb").read()
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        if kind == b"iTXt":
            # keyword, 0, compression flag, method, language, 0, translated keyword, 0, text
            key, rest = body.split(b"\0", 1)
            compressed = rest[0] == 1
            text = rest[2:].split(b"\0", 2)[2]
            chunks[key.decode()] = (zlib.decompress(text) if compressed else text).decode()
        at += 12 + length
    return chunks


def actions(store):
    manifest = store["manifests"][store["active_manifest"]]
    found = []
    for assertion in manifest["assertions"]:
        if assertion["label"].startswith("c2pa.actions"):
            found += assertion["data"]["actions"]
    return manifest, found


def check(condition, what):
    if not condition:
        sys.exit(f"c2pa-python: {what}")
    print(f"ok: {what}")


def main():
    signed, hidden, tampered, root_path = sys.argv[1:5]
    root = open(root_path).read()

    store = read(signed)
    codes = [status["code"] for status in store.get("validation_status", [])]
    check(store["validation_state"] == "Valid", f"a local signer reads Valid ({store['validation_state']})")
    check("signingCredential.untrusted" in codes, f"and untrusted ({codes})")
    check(read(signed, root)["validation_state"] == "Trusted", "Trusted with the local root as an anchor")

    manifest, acts = actions(store)
    created = [a for a in acts if a["action"] == "c2pa.created"]
    check(len(created) == 1, "one c2pa.created action")
    check(created[0]["digitalSourceType"] == SOURCE + "compositeWithTrainedAlgorithmicMedia",
          f"the picture is composite ({created[0]['digitalSourceType']})")
    edited = [a for a in acts if a["action"] == "c2pa.edited"]
    check(len(edited) >= 1, "a c2pa.edited action per generated layer")
    width, height = struct.unpack(">II", open(signed, "rb").read()[16:24])
    for action in edited:
        check(action["digitalSourceType"] == SOURCE + "trainedAlgorithmicMedia", "edited by a trained model")
        for region in action["changes"][0]["region"]:
            shape = region["shape"]
            x, y = shape["origin"]["x"], shape["origin"]["y"]
            inside = 0 <= x and 0 <= y and x + shape["width"] <= width and y + shape["height"] <= height
            check(shape["type"] == "rectangle" and shape["unit"] == "pixel" and inside,
                  f"region {x},{y} {shape['width']}x{shape['height']} within {width}x{height}")
    log = json.loads(text_chunks(signed)["pentimento:generation-log"])
    unet = [h for f, h in log[0]["model_files"] if f.startswith("unet/")][0]
    parameters = edited[0]["parameters"]
    check(parameters["model_sha256"] == unet, "the model's sha256 is the logged UNet's")
    check(parameters["prompt"] == log[0]["prompt"], "the prompt is shown when allowed")
    training = {a["label"]: a["data"] for a in manifest["assertions"]}["cawg.training-mining"]["entries"]
    check(sorted(training) == ["cawg.ai_generative_training", "cawg.ai_inference", "cawg.ai_training",
                               "cawg.data_mining"], "the four CAWG uses")
    check(all(entry["use"] == "notAllowed" for entry in training.values()), "notAllowed by default")
    check(not any("role" in a for a in acts), "no deprecated role field")

    hidden_store = read(hidden)
    _, hidden_acts = actions(hidden_store)
    check(all("prompt" not in a.get("parameters", {}) for a in hidden_acts), "no prompt when hidden")
    hidden_training = {a["label"]: a["data"] for a in
                       hidden_store["manifests"][hidden_store["active_manifest"]]["assertions"]}
    check(all(e["use"] == "allowed" for e in hidden_training["cawg.training-mining"]["entries"].values()),
          "training allowed when chosen")

    check(read(tampered)["validation_state"] == "Invalid", "one changed byte reads Invalid")


if __name__ == "__main__":
    main()
