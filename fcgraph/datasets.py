"""Image datasets as 3 x 32 x 32 float tensors in pixel units (0..1), with integer labels.

``digits``
    the 1,797 8x8 digit images bundled with scikit-learn (no network): values 0..16 scaled to
    0..1, upsampled bilinearly to 32x32, repeated over 3 channels. A stratified split fixed by
    ``split_seed`` holds out 20% (360 images) as ``test``; ``all`` is every image in
    scikit-learn's order.
``mnist``, ``fashion-mnist``
    torchvision's 28x28 grey images, zero-padded to 32x32, repeated over 3 channels.
``cifar10``, ``cifar100``
    torchvision's 32x32 colour images.
``imagefolder:PATH``
    torchvision ``ImageFolder`` (one sub-folder per class), resized and centre-cropped to 32x32,
    RGB. If PATH holds ``train/`` and ``test/`` sub-folders they are the splits; otherwise every
    split is PATH itself.

torchvision datasets are read from ``data_root`` (default ``$FCGRAPH_DATA_ROOT``, else
``~/.cache/fcgraph/datasets``) and downloaded there when ``download`` is true and the machine is
online. A dataset that is neither there nor downloadable raises :class:`FcgraphError` saying how
to get it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from fcgraph.errors import BadArgument, FcgraphError, choice
from fcgraph.names import DATASETS, SPLITS
from fcgraph.paths import DATA_ROOT

#: Per-channel pixel mean and SD (pixel units) used to normalise inside the model.
_NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "digits": ((0.3053,) * 3, (0.3236,) * 3),
    "mnist": ((0.1001,) * 3, (0.2752,) * 3),
    "fashion-mnist": ((0.2190,) * 3, (0.3318,) * 3),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagefolder": ((0.5,) * 3, (0.25,) * 3),
}
_TORCHVISION = {"mnist": ("MNIST", 10), "fashion-mnist": ("FashionMNIST", 10),
                "cifar10": ("CIFAR10", 10), "cifar100": ("CIFAR100", 100)}


@dataclass(frozen=True)
class ImageData:
    """A loaded split: ``dataset[i]`` is (image [3, 32, 32] float32 in 0..1, label int)."""

    name: str
    split: str
    dataset: Dataset
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def first(self, n: int) -> ImageData:
        """The first ``n`` images (in the split's fixed order)."""
        if n > len(self):
            raise FcgraphError(f"{self.name} {self.split} has only {len(self)} images, not {n}")
        return ImageData(self.name, self.split, Subset(self.dataset, range(n)), self.num_classes,
                         self.mean, self.std)

    def repeated(self, trials: int) -> ImageData:
        """The images ``trials`` times over, trial-major: item r n + i is image i (n = len)."""
        if trials < 1:
            raise FcgraphError(f"trials must be >= 1, got {trials}")
        if trials == 1:
            return self
        n = len(self)
        return ImageData(self.name, self.split, Subset(self.dataset, list(range(n)) * trials),
                         self.num_classes, self.mean, self.std)

    def batches(self, batch_size: int, order: np.ndarray | None = None,
                start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images [B, 3, 32, 32], labels [B] int64) over ``order`` (default 0..n-1), from ``start``."""
        idx = np.arange(len(self)) if order is None else np.asarray(order)
        idx = idx[start:]
        tensors = _tensors(self.dataset)
        if tensors is not None:
            images, labels = tensors
            for i in range(0, len(idx), batch_size):
                sel = torch.from_numpy(idx[i:i + batch_size])
                yield images[sel], labels[sel]
            return
        loader = DataLoader(Subset(self.dataset, idx.tolist()), batch_size=batch_size, shuffle=False)
        for images, labels in loader:
            yield images.float(), labels.long()


def _tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(images, labels) of an in-memory dataset (possibly a range Subset of one), else None."""
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[0], dataset.tensors[1]
    if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset):
        sel = torch.as_tensor(list(dataset.indices))
        return dataset.dataset.tensors[0][sel], dataset.dataset.tensors[1][sel]
    return None


def default_data_root() -> Path:
    """``$FCGRAPH_DATA_ROOT`` or :data:`fcgraph.paths.DATA_ROOT` (``~/.cache/fcgraph/datasets``)."""
    env = os.environ.get("FCGRAPH_DATA_ROOT")
    return Path(env or DATA_ROOT).expanduser()


def check_name(name: str) -> str:
    """``name`` if it is a known dataset name, else :class:`BadArgument` listing them."""
    base = name.split(":", 1)[0]
    if base == "imagefolder":
        if ":" not in name or not name.split(":", 1)[1]:
            raise BadArgument("--dataset", "imagefolder needs a path: --dataset imagefolder:PATH")
        return name
    if base not in _NORMALISATION:
        raise BadArgument("--dataset", f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return name


def normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel, pixel units, for dataset ``name``."""
    return _NORMALISATION[check_name(name).split(":", 1)[0]]


def load_dataset(name: str, split: str = "test", *, data_root: Path | None = None,
                 split_seed: int = 0, download: bool = True) -> ImageData:
    """Load ``split`` (``train``, ``test`` or ``all``) of dataset ``name`` (see the module docstring)."""
    check_name(name)
    choice(split, SPLITS, "--split", "split")
    mean, std = normalisation(name)
    base = name.split(":", 1)[0]
    if base == "digits":
        dataset, classes = _digits(split, split_seed), 10
    elif base == "imagefolder":
        dataset, classes = _image_folder(Path(name.split(":", 1)[1]).expanduser(), split)
    else:
        root = Path(data_root).expanduser() if data_root else default_data_root()
        dataset, classes = _torchvision(base, split, root, download)
    return ImageData(name, split, dataset, classes, mean, std)


def _digits(split: str, split_seed: int) -> TensorDataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    pixels = torch.tensor(bunch.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    images = torch.nn.functional.interpolate(pixels, size=(32, 32), mode="bilinear", align_corners=False)
    images = images.clamp(0.0, 1.0).repeat(1, 3, 1, 1).contiguous()
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    if split != "all":
        train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=0.2,
                                               random_state=split_seed, stratify=bunch.target)
        sel = torch.from_numpy(train_idx if split == "train" else test_idx)
        images, labels = images[sel], labels[sel]
    return TensorDataset(images, labels)


def _grey_to_rgb32(image: torch.Tensor) -> torch.Tensor:
    """[1, 28, 28] -> [3, 32, 32] (zero padding of 2 on each side)."""
    return torch.nn.functional.pad(image, (2, 2, 2, 2)).repeat(3, 1, 1)


def _torchvision(base: str, split: str, root: Path, download: bool) -> tuple[Dataset, int]:
    from torchvision import datasets, transforms

    cls_name, classes = _TORCHVISION[base]
    cls = getattr(datasets, cls_name)
    steps = [transforms.ToTensor()]
    if base in ("mnist", "fashion-mnist"):
        steps.append(transforms.Lambda(_grey_to_rgb32))
    transform = transforms.Compose(steps)
    how = (f"download it with network access (fcgraph downloads it into {root} by itself), or pass "
           f"--data-root to a folder holding torchvision's {cls_name} files")
    parts = []
    for train in ((True,) if split == "train" else (False,) if split == "test" else (True, False)):
        try:
            parts.append(cls(str(root), train=train, transform=transform, download=download))
        except (RuntimeError, OSError) as exc:  # not there; or URLError, socket, disk errors
            if not download:
                raise FcgraphError(f"{base} is not in {root}; {how}") from None
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            reason = next((line for line in lines if "urlopen" in line), lines[0])
            raise FcgraphError(f"{base} is not in {root} and could not be downloaded ({reason}); "
                               f"{how}") from None
    dataset: Dataset = parts[0] if len(parts) == 1 else torch.utils.data.ConcatDataset(parts)
    return dataset, classes


def _image_folder(path: Path, split: str) -> tuple[Dataset, int]:
    from torchvision import datasets, transforms

    if not path.is_dir():
        raise BadArgument("--dataset", f"image folder {path} does not exist (expected one sub-folder "
                                       "per class)")
    if (path / "train").is_dir() and (path / "test").is_dir() and split != "all":
        path = path / split
    transform = transforms.Compose([transforms.Lambda(lambda im: im.convert("RGB")),
                                    transforms.Resize(32), transforms.CenterCrop(32),
                                    transforms.ToTensor()])
    try:
        folder = datasets.ImageFolder(str(path), transform=transform)
    except (FileNotFoundError, RuntimeError) as exc:
        raise FcgraphError(f"image folder {path}: {exc}".splitlines()[0]) from None
    if len(folder.classes) < 2:
        raise FcgraphError(f"image folder {path} has {len(folder.classes)} class folder(s); need 2 or more")
    return folder, len(folder.classes)
