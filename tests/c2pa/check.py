"""Reads Pentimento's signed exports with c2pa-python (an independent build of the C2PA SDK) and
checks what they say. Run by .ci/c2pa-reader:

    check.py SIGNED.png HIDDEN.png TAMPERED.png LOCAL-ROOT.pem PROJECT.ora

    check.py --regions SIGNED.png PROJECT.ora
    check.py --ingredient SIGNED.png EARLIER.png
    check.py --filled SIGNED.png PROJECT.ora

SIGNED was exported with the defaults (prompt shown, training notAllowed), HIDDEN with
--hide-prompt --training allowed, TAMPERED is SIGNED with one byte of its pixels changed.
"""

import io
import json
import struct
import sys
import zipfile
import zlib

import c2pa
from PIL import Image

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


def ring_of(shape):
    """A C2PA rectangle or polygon as a list of (x, y) vertices."""
    x, y = shape["origin"]["x"], shape["origin"]["y"]
    if shape["type"] == "rectangle":
        w, h = shape["width"], shape["height"]
        return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    return [(vertex["x"], vertex["y"]) for vertex in shape["vertices"]]


def fill(rings, width, height):
    """The pixels whose centres the rings cover (even-odd rule), as a set of (x, y)."""
    inside = set()
    for y in range(height):
        scan = y + 0.5
        crossings = []
        for ring in rings:
            for (ax, ay), (bx, by) in zip(ring, ring[1:] + ring[:1]):
                if (ay <= scan) != (by <= scan):
                    crossings.append(ax + (scan - ay) / (by - ay) * (bx - ax))
        crossings.sort()
        for left, right in zip(crossings[::2], crossings[1::2]):
            for x in range(max(0, int(-(-(left - 0.5) // 1))), min(width, int(-(-(right - 0.5) // 1)))):
                inside ^= {(x, y)}
    return inside


def shapes_of(action):
    return [ring_of(r["shape"]) for change in action.get("changes", []) for r in change["region"]]


def check(condition, what):
    if not condition:
        sys.exit(f"c2pa-python: {what}")
    print(f"ok: {what}")


def check_regions(signed, project):
    """The signed shapes, filled, are exactly the project's generated (2, 3) and painted (1, 3)
    pixels."""
    store = read(signed)
    check(store["validation_state"] == "Valid", f"{signed} reads Valid ({store['validation_state']})")
    _, acts = actions(store)
    edited = [a for a in acts if a["action"] == "c2pa.edited"]
    width, height = struct.unpack(">II", open(signed, "rb").read()[16:24])
    with zipfile.ZipFile(project) as archive:
        provenance = Image.open(io.BytesIO(archive.read("pentimento/provenance.png"))).convert("L")
    check(provenance.size == (width, height), "the provenance map is the export's size")
    values = provenance.load()
    classes = {v: {(x, y) for y in range(height) for x in range(width) if values[x, y] in v}
               for v in ((2, 3), (1, 3))}
    generated = set()
    for action in edited:
        generated |= fill(shapes_of(action), width, height)
    check(generated == classes[(2, 3)],
          f"the generated regions are exactly the {len(classes[(2, 3)])} generated pixels "
          f"({len(generated ^ classes[(2, 3)])} differ)")
    drawing = [a for a in acts if a["action"] == "c2pa.drawing"]
    painted = fill(shapes_of(drawing[0]), width, height) if drawing else set()
    check(painted == classes[(1, 3)],
          f"the painted regions are exactly the {len(classes[(1, 3)])} painted pixels "
          f"({len(painted ^ classes[(1, 3)])} differ)")


def check_filled(signed, project):
    """SIGNED was filled by content-aware fill (no model): its action says algorithmicMedia, its
    shapes are exactly the project's filled pixels (4, 5), and nothing claims a trained model."""
    store = read(signed)
    check(store["validation_state"] == "Valid", f"{signed} reads Valid ({store['validation_state']})")
    _, acts = actions(store)
    created = [a for a in acts if a["action"] == "c2pa.created"][0]
    check(created["digitalSourceType"] == SOURCE + "compositeSynthetic",
          f"painted and algorithmic together ({created['digitalSourceType']})")
    check(all(a.get("digitalSourceType") != SOURCE + "trainedAlgorithmicMedia" for a in acts),
          "no action claims a trained model")
    filled_actions = [a for a in acts if a.get("digitalSourceType") == SOURCE + "algorithmicMedia"]
    check(len(filled_actions) == 1 and filled_actions[0]["parameters"]["model"] is None,
          "one algorithmic action, without a model")
    width, height = struct.unpack(">II", open(signed, "rb").read()[16:24])
    with zipfile.ZipFile(project) as archive:
        provenance = Image.open(io.BytesIO(archive.read("pentimento/provenance.png"))).convert("L")
    values = provenance.load()
    truth = {(x, y) for y in range(height) for x in range(width) if values[x, y] in (4, 5)}
    shapes = fill(shapes_of(filled_actions[0]), width, height)
    check(len(truth) > 0 and shapes == truth,
          f"its shapes are exactly the {len(truth)} filled pixels ({len(shapes ^ truth)} differ)")


def check_ingredient(signed, earlier):
    """SIGNED was made from the signed image EARLIER: it names it as an ingredient and carries
    its manifest, still valid, with a c2pa.placed action that points at it."""
    store = read(signed)
    check(store["validation_state"] == "Valid", f"{signed} reads Valid ({store['validation_state']})")
    earlier_label = read(earlier)["active_manifest"]
    manifest, acts = actions(store)
    ingredients = manifest.get("ingredients", [])
    titles = [ingredient["title"] for ingredient in ingredients]
    check(titles == [earlier.rsplit("/", 1)[-1]], f"the earlier export is the ingredient ({titles})")
    ingredient = ingredients[0]
    check(ingredient["relationship"] == "componentOf", "as a component")
    check(ingredient.get("active_manifest") == earlier_label and earlier_label in store["manifests"],
          "its own manifest came along")
    failures = [f["code"] for f in ingredient["validation_results"]["activeManifest"]["failure"]]
    check(set(failures) <= {"signingCredential.untrusted"},
          f"and validated when it was brought in (a local signer, untrusted: {failures})")
    placed = [a for a in acts if a["action"] == "c2pa.placed"]
    check(len(placed) == 1 and len(placed[0]["parameters"]["ingredients"]) == 1,
          "a c2pa.placed action points at it")


def main():
    signed, hidden, tampered, root_path, project = sys.argv[1:6]
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
        for change in action["changes"]:
            for region in change["region"]:
                shape = region["shape"]
                ring = ring_of(shape)
                inside = all(0 <= x <= width and 0 <= y <= height for x, y in ring)
                check(shape["type"] in ("rectangle", "polygon") and shape["unit"] == "pixel" and inside,
                      f"{shape['type']} of {len(ring)} vertices within {width}x{height}")
    check_regions(signed, project)
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
    if sys.argv[1] == "--regions":
        check_regions(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--filled":
        check_filled(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--ingredient":
        check_ingredient(sys.argv[2], sys.argv[3])
    else:
        main()
