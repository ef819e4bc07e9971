"""Checkpoints: exact round trips (modules, optimizers, RNG), atomic saves, and clear errors on bad files."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lawm_env.checkpoint as ckpt
from lawm_env.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint

CONFIG = {"model": {"latent": 8, "layers": [16, 16], "kind": "lawm"}, "lr": 1e-3, "seed": 0}


def make_model(seed: int, hidden: int = 16) -> nn.Module:
    """A small net with parameters and buffers (BatchNorm running stats, num_batches_tracked)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, hidden), nn.BatchNorm1d(hidden), nn.Tanh(), nn.Linear(hidden, 3))


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 4, generator=g), torch.randn(32, 3, generator=g)


def train_step(model: nn.Module, opt: torch.optim.Optimizer, seed: int) -> None:
    x, y = batch(seed)
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()


def params(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def test_module_round_trip_gives_identical_outputs(tmp_path, device):
    model = make_model(0).to(device)
    with torch.no_grad():  # move BatchNorm running stats away from their initial values
        model.train()(batch(1)[0].to(device))
    model.eval()
    x = batch(2)[0].to(device)
    expected = model(x)
    save_checkpoint(tmp_path / "c", modules={"net": model}, config=CONFIG, step=7, metadata={"data": "toy"})

    fresh = make_model(1).to(device).eval()
    assert not torch.equal(fresh(x), expected)
    loaded = load_checkpoint(tmp_path / "c", modules={"net": fresh}, map_location="cpu")
    assert torch.equal(fresh(x), expected)
    assert fresh[1].num_batches_tracked.item() == 1  # buffers are part of the round trip
    assert (loaded.step, loaded.config, loaded.metadata) == (7, CONFIG, {"data": "toy"})
    assert read_checkpoint(tmp_path / "c") == loaded


def test_module_round_trip_keeps_the_module_dtype(tmp_path):
    model = make_model(0).double()
    save_checkpoint(tmp_path / "c", modules={"net": model}, config={}, save_global_rng=False)
    fresh = make_model(1).double()
    load_checkpoint(tmp_path / "c", modules={"net": fresh})
    assert fresh[0].weight.dtype == torch.float64
    assert all(torch.equal(a, b) for a, b in zip(params(model), params(fresh)))


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda groups, lr: torch.optim.Adam(groups, lr=lr),
        lambda groups, lr: torch.optim.AdamW(groups, lr=lr, weight_decay=0.1, amsgrad=True),
    ],
    ids=["adam", "adamw-amsgrad"],
)
def test_optimizer_resume_is_bitwise_identical(tmp_path, make_opt):
    def groups(model):  # two groups with their own settings: param_groups must round-trip too
        return [{"params": model[0].parameters()}, {"params": model[3].parameters(), "lr": 3e-3}]

    model = make_model(0)
    opt = make_opt(groups(model), 1e-2)
    for s in range(3):
        train_step(model, opt, s)
    save_checkpoint(tmp_path / "c", modules={"net": model}, optimizers={"opt": opt}, config=CONFIG, step=3)
    for s in range(3, 5):
        train_step(model, opt, s)

    resumed = make_model(1)
    resumed_opt = make_opt(groups(resumed), 0.5)  # a different lr: the saved one must win
    load_checkpoint(tmp_path / "c", modules={"net": resumed}, optimizers={"opt": resumed_opt})
    step = resumed_opt.state[resumed[0].weight]["step"]
    assert isinstance(step, torch.Tensor) and step.item() == 3
    assert resumed_opt.param_groups[1]["lr"] == 3e-3 and isinstance(resumed_opt.param_groups[0]["betas"], tuple)
    for s in range(3, 5):
        train_step(resumed, resumed_opt, s)
    for a, b in zip(params(model), params(resumed)):
        assert torch.equal(a, b)


def test_global_rng_restore(tmp_path):
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    np.random.normal()  # leaves a cached gaussian in numpy's legacy state
    random.gauss(0, 1)  # and python's
    save_checkpoint(tmp_path / "c", modules={}, config={})
    expected = (torch.rand(4), np.random.rand(4), np.random.normal(), random.random(), random.gauss(0, 1))

    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    load_checkpoint(tmp_path / "c", restore_global_rng=True)
    got = (torch.rand(4), np.random.rand(4), np.random.normal(), random.random(), random.gauss(0, 1))
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2:] == expected[2:]


def test_explicit_generator_restore(tmp_path):
    gen = torch.Generator().manual_seed(3)
    torch.rand(10, generator=gen)
    save_checkpoint(tmp_path / "c", modules={}, config={}, generators={"data": gen}, save_global_rng=False)
    expected = torch.randn(6, generator=gen)

    other = torch.Generator().manual_seed(4)
    load_checkpoint(tmp_path / "c", generators={"data": other})
    assert torch.equal(torch.randn(6, generator=other), expected)
    with pytest.raises(CheckpointError, match="no global RNG state"):
        load_checkpoint(tmp_path / "c", restore_global_rng=True)
    with pytest.raises(CheckpointError, match="no state for generator 'env'"):
        load_checkpoint(tmp_path / "c", generators={"env": other})


def test_expected_config_mismatch_lists_dotted_keys_with_both_values(tmp_path):
    model = make_model(0)
    save_checkpoint(tmp_path / "c", modules={"net": model}, config=CONFIG)
    same = {"model": {"latent": 8, "layers": (16, 16), "kind": "lawm"}, "lr": 1e-3, "seed": 0}
    load_checkpoint(tmp_path / "c", expected_config=same)  # tuples compare as the lists JSON stores

    other = {"model": {"latent": 16, "layers": [16, 64], "kind": "lawm"}, "lr": 1e-3, "seed": 0, "new": True}
    fresh = make_model(1)
    before = params(fresh)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "c", modules={"net": fresh}, expected_config=other)
    message = str(err.value)
    assert str(tmp_path / "c") in message
    assert "model.latent: checkpoint 8, expected 16" in message
    assert "model.layers.1: checkpoint 16, expected 64" in message
    assert "new: checkpoint <absent>, expected true" in message
    assert "lr" not in message and "seed" not in message and "kind" not in message
    assert all(torch.equal(a, b) for a, b in zip(before, params(fresh)))  # nothing loaded


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


@pytest.mark.parametrize("damage", [flip_byte, truncate])
def test_damaged_weights_file_is_named(tmp_path, damage):
    save_checkpoint(tmp_path / "c", modules={"net": make_model(0)}, config={})
    damage(tmp_path / "c" / "weights.safetensors")
    for call in (lambda: load_checkpoint(tmp_path / "c", modules={"net": make_model(1)}),
                 lambda: read_checkpoint(tmp_path / "c")):
        with pytest.raises(CheckpointError, match=r"weights\.safetensors is damaged: its SHA-256"):
            call()


def test_unparsable_weights_file_is_named_even_with_a_matching_checksum(tmp_path):
    save_checkpoint(tmp_path / "c", modules={"net": make_model(0)}, config={})
    truncate(tmp_path / "c" / "weights.safetensors")
    meta_file = tmp_path / "c" / "checkpoint.json"
    meta = json.loads(meta_file.read_text())
    meta["files"]["weights.safetensors"] = ckpt.hashlib.sha256(
        (tmp_path / "c" / "weights.safetensors").read_bytes()
    ).hexdigest()
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"weights\.safetensors is damaged: safetensors cannot parse"):
        load_checkpoint(tmp_path / "c", modules={"net": make_model(1)})


def test_missing_damaged_or_foreign_checkpoint_json(tmp_path):
    save_checkpoint(tmp_path / "c", modules={"net": make_model(0)}, config={})
    meta_file = tmp_path / "c" / "checkpoint.json"
    text = meta_file.read_text()

    meta_file.unlink()
    with pytest.raises(CheckpointError, match=r"checkpoint\.json is missing"):
        load_checkpoint(tmp_path / "c")
    meta_file.write_text(text[:-10])
    with pytest.raises(CheckpointError, match=r"checkpoint\.json is damaged: not valid JSON"):
        load_checkpoint(tmp_path / "c")
    meta_file.write_text(text.replace('"version": 1', '"version": 99'))
    with pytest.raises(CheckpointError, match=r"checkpoint\.json has checkpoint format version 99"):
        read_checkpoint(tmp_path / "c")


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint directory .*nowhere does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    # a crash between moving the old checkpoint aside and moving the new one in: the error points at it
    save_checkpoint(tmp_path / "c", modules={}, config={})
    aside = tmp_path / ".c.0123456789ab.old"
    (tmp_path / "c").rename(aside)
    with pytest.raises(CheckpointError, match=r"save was interrupted; the previous checkpoint is at .*\.c\.0123"):
        load_checkpoint(tmp_path / "c")
    assert read_checkpoint(aside).step == 0


def test_missing_optimizer_state_or_module(tmp_path):
    model = make_model(0)
    save_checkpoint(tmp_path / "c", modules={"net": model}, config={})
    with pytest.raises(CheckpointError, match="has no optimizer state"):
        load_checkpoint(tmp_path / "c", optimizers={"opt": torch.optim.Adam(model.parameters())})
    with pytest.raises(CheckpointError, match=r"has no module 'encoder'; it has \['net'\]"):
        load_checkpoint(tmp_path / "c", modules={"encoder": model})


def test_optimizer_with_other_parameter_groups_is_refused_before_anything_loads(tmp_path):
    model = make_model(0)
    save_checkpoint(tmp_path / "c", modules={"net": model}, optimizers={"opt": torch.optim.Adam(model.parameters())},
                    config={})
    fresh = make_model(1)
    before = params(fresh)
    opt = torch.optim.Adam([{"params": fresh[0].parameters()}, {"params": fresh[3].parameters()}])
    with pytest.raises(CheckpointError, match=r"optimizer 'opt' was saved with parameter groups of sizes \[6\]"):
        load_checkpoint(tmp_path / "c", modules={"net": fresh}, optimizers={"opt": opt})
    assert all(torch.equal(a, b) for a, b in zip(before, params(fresh)))


def test_unserializable_config_is_refused_before_writing(tmp_path):
    with pytest.raises(CheckpointError, match="config is not JSON-serializable"):
        save_checkpoint(tmp_path / "c", modules={}, config={"lr": torch.tensor(1.0)})
    assert list(tmp_path.iterdir()) == []


def test_wrong_shaped_module_lists_keys_and_stays_untouched(tmp_path):
    save_checkpoint(tmp_path / "c", modules={"net": make_model(0)}, config={})
    wrong = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.Tanh(), nn.Linear(32, 3), nn.Linear(3, 3))
    before = params(wrong)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "c", modules={"net": wrong})
    message = str(err.value)
    assert "weights.safetensors does not fit module 'net'" in message
    assert "shape mismatch for '0.weight': checkpoint (16, 4), module (32, 4)" in message
    assert "shape mismatch for '1.running_mean'" in message
    assert "missing key '4.weight'" in message and "missing key '4.bias'" in message
    assert "unexpected key" not in message
    assert all(torch.equal(a, b) for a, b in zip(before, params(wrong)))


def test_saving_over_an_existing_checkpoint(tmp_path):
    target = tmp_path / "c"
    save_checkpoint(target, modules={"net": make_model(0)}, config={"v": 1}, step=1)
    newer = make_model(2)
    save_checkpoint(target, modules={"net": newer}, config={"v": 2}, step=2)
    fresh = make_model(3)
    loaded = load_checkpoint(target, modules={"net": fresh})
    assert (loaded.step, loaded.config) == (2, {"v": 2})
    assert all(torch.equal(a, b) for a, b in zip(params(newer), params(fresh)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temporary or old directories left


def test_refuses_to_replace_a_directory_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="non-empty directory without checkpoint.json"):
        save_checkpoint(tmp_path / "c", modules={}, config={})
    assert (tmp_path / "c" / "notes.txt").read_text() == "keep me"


def test_interrupted_final_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "c"
    old = make_model(0)
    save_checkpoint(target, modules={"net": old}, config={"v": 1}, step=1)
    real_rename = os.rename

    def rename(src, dst):  # the old checkpoint may move aside; moving the new one in "crashes"
        if str(src).endswith(".tmp"):
            raise OSError("simulated crash during the final rename")
        real_rename(src, dst)

    monkeypatch.setattr(ckpt.os, "rename", rename)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(target, modules={"net": make_model(2)}, config={"v": 2}, step=2)
    monkeypatch.undo()

    fresh = make_model(3)
    assert load_checkpoint(target, modules={"net": fresh}).step == 1
    assert all(torch.equal(a, b) for a, b in zip(params(old), params(fresh)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


@pytest.mark.parametrize("existing", [True, False])
def test_interrupted_file_write_leaves_no_partial_target(tmp_path, monkeypatch, existing):
    target = tmp_path / "c"
    if existing:
        save_checkpoint(target, modules={"net": make_model(0)}, config={"v": 1}, step=1)
    real_write = ckpt.write_synced

    def write(path, data):  # half of the weights file reaches the disk, then the disk is "full"
        if path.name == "weights.safetensors":
            real_write(path, data[: len(data) // 2])
            raise OSError("simulated full disk")
        return real_write(path, data)

    monkeypatch.setattr(ckpt, "write_synced", write)
    with pytest.raises(OSError, match="simulated full disk"):
        save_checkpoint(target, modules={"net": make_model(2)}, config={"v": 2}, step=2)
    monkeypatch.undo()

    if existing:
        assert read_checkpoint(target).step == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    else:
        assert list(tmp_path.iterdir()) == []


def test_checkpoint_json_records_files_versions_and_optimizer_groups(tmp_path):
    model = make_model(0)
    opt = torch.optim.Adam(model.parameters())
    train_step(model, opt, 0)
    save_checkpoint(tmp_path / "c", modules={"net": model}, optimizers={"opt": opt}, config={}, step=1)
    meta = json.loads((tmp_path / "c" / "checkpoint.json").read_text())
    assert sorted(meta["files"]) == ["optimizer.safetensors", "rng.safetensors", "weights.safetensors"]
    assert set(meta["versions"]) >= {"lawm", "torch"}
    assert meta["optimizers"]["opt"]["param_groups"][0]["betas"] == {"__tuple__": [0.9, 0.999]}


def test_module_source_never_unpickles():
    source = Path(ckpt.__file__).read_text()
    assert "pickle" not in source and "torch.load" not in source
