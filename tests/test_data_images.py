"""Image datasets: digits, procedural shapes and scenes, the ImageDataset helpers, and user-data loaders
(folders, zips, single images, IDX) including hostile inputs that must fail with a clear DataError."""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.data import files
from gan_core.data.digits import load_digits
from gan_core.data.files import (DataError, load_idx, load_image_file, load_image_folder,
                                 load_image_zip)
from gan_core.data.images import ImageDataset, grid, to_uint8
from gan_core.data.scenes import MASK_NAMES, make_scenes
from gan_core.data.shapes import PALETTE, RADIUS, SHAPES, make_shapes, render_shapes

torch.set_num_threads(1)


def _check_images(ds: ImageDataset, n: int, c: int, size: int) -> None:
    assert ds.images.shape == (n, c, size, size)
    assert ds.images.dtype == torch.float32
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    assert len(ds) == n and ds.channels == c and ds.size == size


# ------------------------------------------------------------------------------------ ImageDataset


def test_dataset_split_subset_and_display_helpers():
    ds = make_shapes(50, size=16, seed=3)
    train, held = ds.split(0.2, seed=1)
    assert len(train) == 40 and len(held) == 10
    both = torch.cat([train.images, held.images])
    assert both.shape == ds.images.shape
    # held-out images are real members, and no image is in both halves
    key = lambda d: {tuple(v.tolist()) for v in d.factors["x"][:, None]}  # noqa: E731
    assert key(train).isdisjoint(key(held)) and len(key(train) | key(held)) == 50
    assert train.split(0.2, seed=1)[0].images.equal(train.split(0.2, seed=1)[0].images)
    sub = ds.subset([4, 2])
    assert sub.images.equal(ds.images[[4, 2]]) and sub.labels.tolist() == ds.labels[[4, 2]].tolist()
    assert sub.factors["scale"].equal(ds.factors["scale"][[4, 2]])
    u8 = to_uint8(ds.images[:3])
    assert u8.shape == (3, 16, 16, 3) and u8.dtype == np.uint8
    g = grid(load_digits(8).images[:10], nrow=4)
    assert g.shape == (3 * 9 + 1, 4 * 9 + 1, 3) and g.dtype == np.uint8
    assert (g[..., 0] == g[..., 2]).all()  # grey expanded to 3 equal channels
    with pytest.raises(ValueError, match=r"labels must be \(3,\), got \(2,\)"):
        ImageDataset("bad", torch.zeros(3, 1, 4, 4), torch.zeros(2, dtype=torch.long), [])


# ------------------------------------------------------------------------------------------ digits


@pytest.mark.parametrize("size", [8, 16, 32])
def test_digits_shapes_and_labels(size):
    ds = load_digits(size)
    _check_images(ds, 1797, 1, size)
    assert ds.labels.dtype == torch.int64 and ds.class_names == [str(d) for d in range(10)]
    counts = torch.bincount(ds.labels, minlength=10)
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 190
    assert ds.images.min() == -1.0 and ds.images.max() > 0.9  # black background, white ink
    # ink sits in the middle: the centre is brighter than the border on average
    c = size // 4
    assert ds.images[..., c:-c, c:-c].mean() > ds.images[..., :, :1].mean() + 0.3


def test_digits_deterministic_cached_and_safe_to_mutate():
    from sklearn.datasets import load_digits as sk

    a, b = load_digits(16), load_digits(16)
    assert a.images.equal(b.images) and a.labels.equal(b.labels)
    a.images.zero_()
    assert not load_digits(16).images.eq(0).all()  # the cache was not touched
    raw = load_digits(8, seed=None)
    assert torch.allclose(raw.images[:, 0], torch.tensor(sk().images, dtype=torch.float32) / 8 - 1)
    other = load_digits(16, seed=1)
    assert not other.labels.equal(b.labels)
    assert other.labels.sort().values.equal(b.labels.sort().values)  # same images, another order


# ------------------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_tensors_and_factor_ranges(size):
    n = 300
    ds = make_shapes(n, size=size, seed=0)
    _check_images(ds, n, 3, size)
    f = ds.factors
    assert set(f) == {"shape", "scale", "rotation", "x", "y", "colour"}
    assert ds.labels.equal(f["shape"]) and ds.class_names == SHAPES
    assert f["shape"].min() == 0 and f["shape"].max() == 3
    assert f["scale"].min() >= 0.5 and f["scale"].max() <= 1.0
    assert f["rotation"].min() >= 0 and f["rotation"].max() < 2 * math.pi
    margin = RADIUS * f["scale"]
    assert (f["x"] >= margin - 1e-6).all() and (f["x"] <= 1 - margin + 1e-6).all()
    assert (f["y"] >= margin - 1e-6).all() and (f["y"] <= 1 - margin + 1e-6).all()
    assert f["colour"].min() >= 0 and f["colour"].max() == len(ds.meta["palette"]) - 1
    # black background; the brightest pixel of each image is (close to) its palette colour
    assert (ds.images[:, :, 0, 0] == -1).float().mean() > 0.95
    brightest = ds.images.flatten(2).max(2).values
    expect = torch.tensor(PALETTE)[f["colour"]] * 2 - 1
    assert (brightest - expect).abs().max() < 0.05


def test_shapes_seeded():
    a, b, c = make_shapes(64, seed=5), make_shapes(64, seed=5), make_shapes(64, seed=6)
    assert a.images.equal(b.images) and all(a.factors[k].equal(b.factors[k]) for k in a.factors)
    assert not a.images.equal(c.images)


def test_shapes_geometry_follows_factors():
    k = 8
    scale = np.linspace(0.5, 1.0, k)
    circles = render_shapes([1] * k, scale, [0.0] * k, [0.5] * k, [0.5] * k, [0] * k, size=32)
    area = ((circles[:, 0] + 1) / 2).sum((1, 2))  # antialiased pixel count
    assert (area[1:] > area[:-1]).all()
    assert 3.4 < float(area[-1] / area[0]) < 4.6  # area grows with scale squared
    # a circle's coverage centroid sits at (x, y)
    one = render_shapes([1], [0.7], [1.0], [0.35], [0.6], [2], size=32)[0, 2]
    w = (one + 1) / 2
    ys, xs = torch.meshgrid(torch.arange(32.0) + 0.5, torch.arange(32.0) + 0.5, indexing="ij")
    assert abs(float((w * xs).sum() / w.sum()) - 0.35 * 32) < 0.2
    assert abs(float((w * ys).sum() / w.sum()) - 0.6 * 32) < 0.2
    # a square turned by 90 degrees looks the same, by 45 degrees it does not
    sq = render_shapes([0] * 3, [1.0] * 3, [0.0, math.pi / 2, math.pi / 4], [0.5] * 3, [0.5] * 3, [3] * 3)
    assert (sq[0] - sq[1]).abs().max() < 0.05 and (sq[0] - sq[2]).abs().max() > 0.5


# ------------------------------------------------------------------------------------------ scenes


@pytest.mark.parametrize("size,n", [(32, 200), (64, 40)])
def test_scenes_tensors_and_masks(size, n):
    ds = make_scenes(n, size=size, seed=0)
    _check_images(ds, n, 3, size)
    assert ds.labels is None and ds.mask_names == MASK_NAMES and ds.class_names == MASK_NAMES
    assert ds.masks.shape == (n, size, size) and ds.masks.dtype == torch.int64
    assert ds.masks.min() >= 0 and ds.masks.max() < len(MASK_NAMES)


def test_scenes_seeded():
    a, b, c = make_scenes(20, seed=2), make_scenes(20, seed=2), make_scenes(20, seed=3)
    assert a.images.equal(b.images) and a.masks.equal(b.masks)
    assert not a.images.equal(c.images) and not a.masks.equal(c.masks)


def test_scene_masks_agree_with_pixel_colours():
    ds = make_scenes(200, size=32, seed=1)
    rgb = (ds.images + 1) / 2  # (N, 3, H, W) in [0, 1]
    present = [int((ds.masks == k).flatten(1).any(1).sum()) for k in range(len(MASK_NAMES))]
    assert min(present) > 0, dict(zip(MASK_NAMES, present))

    def mean_rgb(name: str) -> torch.Tensor:
        sel = ds.masks == MASK_NAMES.index(name)
        return torch.stack([rgb[:, c][sel].mean() for c in range(3)])

    r, g, b = mean_rgb("tree")
    assert g > r and g > b
    r, g, b = mean_rgb("sun")
    assert r > 0.8 and g > 0.7 and b < 0.3
    r, g, b = mean_rgb("sky")
    assert b > r and b > g
    r, g, b = mean_rgb("grass")
    assert g > r and g > b
    assert mean_rgb("water").sum() < mean_rgb("sky").sum() - 0.4  # water is a darker blue
    assert mean_rgb("cloud").min() > 0.8  # white
    # sky is above the grass in every image
    rows = torch.arange(32.0)[None, :, None].expand_as(ds.masks)
    sky_y = (rows * (ds.masks == 0)).sum((1, 2)) / (ds.masks == 0).sum((1, 2))
    grass_y = (rows * (ds.masks == 4)).sum((1, 2)) / (ds.masks == 4).sum((1, 2))
    assert (sky_y < grass_y).all()


# ------------------------------------------------------------------------------------ file fixtures


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _rand_png(seed: int, shape=(20, 24, 3)) -> bytes:
    return _png(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(w: int, h: int) -> bytes:
    """A small PNG whose header declares w x h pixels (its pixel data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def _idx(path: Path, magic: int, dims: tuple[int, ...], data: bytes, gz: bool = False) -> Path:
    raw = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + data
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.fixture
def no_writes(tmp_path, monkeypatch):
    """Fails a test if a loader extracts from a zip or adds files to the working dir or tmp_path."""

    def refuse(*a, **k):
        raise AssertionError("a loader tried to extract a zip to disk")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    before_cwd = set(os.listdir("."))
    yield
    after = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert all(not name.startswith("..") for name in after)
    assert set(os.listdir(".")) == before_cwd
    assert not (tmp_path.parent / "evil.png").exists()


# ------------------------------------------------------------------------------------ good inputs


def test_image_folder_with_class_subfolders(tmp_path):
    for cls, seeds in (("cats", [1, 2, 3]), ("dogs", [4, 5])):
        (tmp_path / cls).mkdir()
        for s in seeds:
            (tmp_path / cls / f"{s}.png").write_bytes(_rand_png(s))
    (tmp_path / ".DS_Store").write_bytes(b"junk")  # hidden files are skipped
    ds = load_image_folder(tmp_path, size=16, channels=3)
    _check_images(ds, 5, 3, 16)
    assert ds.class_names == ["cats", "dogs"] and ds.labels.tolist() == [0, 0, 0, 1, 1]
    grey = load_image_folder(tmp_path, size=8, channels=1)
    _check_images(grey, 5, 1, 8)


def test_image_folder_flat_gives_no_labels_and_crops_centre(tmp_path):
    wide = np.zeros((32, 64), np.uint8)
    wide[:, 16:48] = 255  # the centre square is white, the sides black
    (tmp_path / "wide.png").write_bytes(_png(wide))
    (tmp_path / "b.jpg").write_bytes(_jpeg(np.full((40, 40, 3), 200, np.uint8)))
    ds = load_image_folder(tmp_path, size=16, channels=1)
    assert ds.labels is None and len(ds) == 2
    assert ds.images[1].min() > 0.95  # wide.png sorts second: centre crop kept only the white part
    assert abs(float(ds.images[0].mean()) - (200 / 127.5 - 1)) < 0.05


def _jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_image_zip_in_memory(tmp_path, no_writes):
    entries = {"data/": b"", "data/a/1.png": _rand_png(1), "data/a/2.png": _rand_png(2),
               "data/b/3.jpg": _jpeg(np.full((30, 30, 3), 90, np.uint8)),
               "__MACOSX/data/a/._1.png": b"resource fork", "data/.DS_Store": b"junk"}
    path = _zip(tmp_path / "good.zip", entries)
    ds = load_image_zip(path, size=16, channels=3)
    _check_images(ds, 3, 3, 16)
    assert ds.class_names == ["a", "b"] and sorted(ds.labels.tolist()) == [0, 0, 1]
    from_bytes = load_image_zip(path.read_bytes(), size=16, channels=3)
    assert from_bytes.images.equal(ds.images)
    assert set(os.listdir(tmp_path)) == {"good.zip"}


def test_load_image_file_path_and_bytes(tmp_path):
    data = _rand_png(7, (10, 30))
    (tmp_path / "one.png").write_bytes(data)
    a = load_image_file(tmp_path / "one.png", size=8, channels=3)
    b = load_image_file(data, size=8, channels=3)
    assert a.shape == (3, 8, 8) and a.equal(b) and a.min() >= -1 and a.max() <= 1
    assert (a[0] == a[1]).all()  # a grey image in RGB has equal channels


def test_idx_pair_plain_and_gz(tmp_path):
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    pix = np.stack([(127.5 + 127 * np.sin(3 * xx + k) * np.cos(2 * yy)) for k in range(5)]).astype(np.uint8)
    labs = np.array([3, 1, 4, 1, 5], np.uint8)
    ip = _idx(tmp_path / "img-idx3-ubyte", 0x803, (5, 28, 28), pix.tobytes())
    lp = _idx(tmp_path / "lab-idx1-ubyte", 0x801, (5,), labs.tobytes())
    ds = load_idx(ip, lp)
    _check_images(ds, 5, 1, 28)
    assert torch.allclose(ds.images[:, 0], torch.tensor(pix, dtype=torch.float32) / 127.5 - 1)
    assert ds.labels.tolist() == [3, 1, 4, 1, 5] and ds.class_names == [str(i) for i in range(6)]
    igz = _idx(tmp_path / "img-idx3-ubyte.gz", 0x803, (5, 28, 28), pix.tobytes(), gz=True)
    lgz = _idx(tmp_path / "lab-idx1-ubyte.gz", 0x801, (5,), labs.tobytes(), gz=True)
    small = load_idx(igz, lgz, size=14)
    _check_images(small, 5, 1, 14)
    assert small.labels.equal(ds.labels)
    assert torch.allclose(small.images, torch.nn.functional.avg_pool2d(ds.images, 2), atol=0.05)


# ---------------------------------------------------------------------------------- hostile inputs


def test_zip_with_parent_path_entry_is_refused(tmp_path, no_writes):
    path = _zip(tmp_path / "slip.zip", {"ok.png": _rand_png(1), "../evil.png": _rand_png(2)})
    with pytest.raises(DataError, match=r"\.\./evil\.png.*unsafe path"):
        load_image_zip(path)


def test_zip_with_absolute_path_entry_is_refused(tmp_path, no_writes):
    path = _zip(tmp_path / "abs.zip", {"/tmp/abs.png": _rand_png(1)})
    with pytest.raises(DataError, match=r"/tmp/abs\.png.*unsafe path"):
        load_image_zip(path)
    path = _zip(tmp_path / "drive.zip", {"C:\\evil.png": _rand_png(1)})
    with pytest.raises(DataError, match="unsafe path"):
        load_image_zip(path)


def test_zip_bomb_is_refused_without_reading(tmp_path, no_writes, monkeypatch):
    bomb = _zip(tmp_path / "bomb.zip", {"a.png": _rand_png(1), "bomb.png": bytes(50 * 1024 * 1024)})
    assert bomb.stat().st_size < 1024 * 1024
    stored = _zip(tmp_path / "big.zip", {f"{i}.png": _rand_png(i) for i in range(3)}, zipfile.ZIP_STORED)
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        opened.append(getattr(name, "filename", name)), real_open(self, name, *a, **k))[1])
    with pytest.raises(DataError, match=r"bomb\.png.*compression ratio .*zip bomb"):
        load_image_zip(bomb)
    assert opened == []  # refused from the directory alone, nothing decompressed
    # declared sizes over the total limit (stored entries, ratio 1) are refused the same way
    with pytest.raises(DataError, match=r"unpack to .* over the limit"):
        load_image_zip(stored, max_total_bytes=1000)
    assert opened == []


def test_non_images_are_refused_with_their_names(tmp_path, no_writes):
    fake = b"hello, I am text pretending to be a picture\n" * 10
    with pytest.raises(DataError, match=r"notes\.png: not a PNG or JPEG image"):
        load_image_file(_write(tmp_path / "notes.png", fake))
    with pytest.raises(DataError, match=r"uploaded image: not a PNG or JPEG"):
        load_image_file(fake)
    with pytest.raises(DataError, match=r"d/notes\.png: not a PNG or JPEG"):
        load_image_zip(_zip(tmp_path / "t.zip", {"d/ok.png": _rand_png(1), "d/notes.png": fake}))
    with pytest.raises(DataError, match=r"readme\.txt: not a PNG or JPEG"):
        load_image_zip(_zip(tmp_path / "r.zip", {"ok.png": _rand_png(1), "readme.txt": b"hi"}))
    folder = tmp_path / "f"
    folder.mkdir()
    _write(folder / "ok.png", _rand_png(1))
    _write(folder / "README.txt", b"hi")
    with pytest.raises(DataError, match=r"README\.txt: not a PNG or JPEG"):
        load_image_folder(folder)
    with pytest.raises(DataError, match="not a readable zip"):
        load_image_zip(_write(tmp_path / "fake.zip", fake))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_truncated_png_is_refused(tmp_path, no_writes):
    data = _rand_png(3, (64, 64, 3))
    cut = data[: len(data) // 2]
    with pytest.raises(DataError, match=r"cut\.png: truncated or corrupt"):
        load_image_file(_write(tmp_path / "cut.png", cut))
    with pytest.raises(DataError, match=r"x/cut\.png: truncated or corrupt"):
        load_image_zip(_zip(tmp_path / "c.zip", {"x/cut.png": cut, "x/ok.png": _rand_png(1)}))


def test_huge_declared_png_is_refused_before_decoding(tmp_path, no_writes):
    huge = _png_header_only(20000, 20000)
    assert len(huge) < 200
    with pytest.raises(DataError, match=r"huge\.png: the image is too large"):
        load_image_file(_write(tmp_path / "huge.png", huge))
    with pytest.raises(DataError, match=r"in/huge\.png: the image is too large"):
        load_image_zip(_zip(tmp_path / "h.zip", {"in/huge.png": huge}))
    # under PIL's own guard but over our 4096x4096 limit: the message gives the dimensions
    with pytest.raises(DataError, match=r"too large \(5000x5000 = 25,000,000 pixels"):
        load_image_file(_png_header_only(5000, 5000))
    with pytest.raises(DataError, match=r"too large \(300x300"):
        load_image_file(_png_header_only(300, 300), max_pixels=256 * 256)


def test_idx_errors(tmp_path, no_writes):
    pix = bytes(4 * 8 * 8)
    with pytest.raises(DataError, match=r"bad-idx: wrong IDX magic number 0x00000801"):
        load_idx(_idx(tmp_path / "bad-idx", 0x801, (4, 8, 8), pix))
    with pytest.raises(DataError, match=r"short-idx: file length .* does not match its header.*truncated"):
        load_idx(_idx(tmp_path / "short-idx", 0x803, (4, 8, 8), pix[:-10]))
    with pytest.raises(DataError, match="trailing bytes"):
        load_idx(_idx(tmp_path / "long-idx", 0x803, (4, 8, 8), pix + b"xx"))
    with pytest.raises(DataError, match="too short for an IDX header"):
        load_idx(_write(tmp_path / "tiny", b"\x00\x00"))
    good = _idx(tmp_path / "img", 0x803, (4, 8, 8), pix)
    with pytest.raises(DataError, match=r"lab: 3 labels for 4 images"):
        load_idx(good, _idx(tmp_path / "lab", 0x801, (3,), bytes(3)))
    with pytest.raises(DataError, match=r"gz\.gz: broken gzip"):
        load_idx(_write(tmp_path / "gz.gz", b"\x1f\x8b" + b"\x00" * 30))


def test_limits_on_counts_and_arguments(tmp_path, no_writes):
    for i in range(3):
        _write(tmp_path / f"{i}.png", _rand_png(i))
    with pytest.raises(DataError, match=r"3 images, over the limit of 2"):
        load_image_folder(tmp_path, max_images=2)
    with pytest.raises(DataError, match="channels must be 1"):
        load_image_folder(tmp_path, channels=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no PNG or JPEG images found"):
        load_image_folder(empty)
    with pytest.raises(DataError, match="not a folder"):
        load_image_folder(tmp_path / "missing")


def test_zip_entry_count_is_checked_before_its_directory_is_parsed(tmp_path, monkeypatch):
    from gan_core.data import image_archives

    path = _zip(tmp_path / "many.zip", {f"{i}.png": b"x" for i in range(2000)})
    assert image_archives.declared_entries(str(path)) == 2000
    parsed = []
    monkeypatch.setattr(zipfile.ZipFile, "infolist", lambda self: parsed.append(1) or [])
    with pytest.raises(files.DataError, match="declares 2,000 entries"):
        files.load_image_zip(str(path), max_images=10)
    assert not parsed


def test_an_upload_is_refused_by_the_pixel_budget_before_decoding(tmp_path, monkeypatch):
    from gan_core.data import image_archives

    big = _png(np.zeros((512, 512), np.uint8))
    path = _zip(tmp_path / "big.zip", {f"{i}.png": big for i in range(5)})
    decoded = []
    monkeypatch.setattr(image_archives, "_decode", lambda *a: decoded.append(1))
    with pytest.raises(files.DataError, match="pixels in all, over the limit of 1,000,000"):
        files.load_image_zip(str(path), max_total_pixels=1_000_000)
    assert not decoded
