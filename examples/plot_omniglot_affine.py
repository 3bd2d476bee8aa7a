"""
===================================================
Custom augmentation: affine distortions on Omniglot
===================================================

Self-augmented training makes the clustering invariant to whatever the
augmentation does to a sample. VAT's small adversarial steps in pixel space
say "nearby images belong together"; for handwritten characters we know
more: a character stays itself when it is slightly rotated, scaled, sheared
or shifted. :class:`~imsat_sklearn.augment.RandomAffine` applies such random
distortions, and passing it as ``augmentation`` asks the network to give
each image and its distortions the same cluster (the paper's Omniglot
experiment, Section 4).

Omniglot holds hand-drawn characters of many alphabets, 20 drawings of
each. We cluster a subset of 20 characters (400 images of 21x21 pixels)
with VAT, with the affine distortions, and with both, combined in two
ways. Without the Omniglot
files (see :func:`~imsat_sklearn.datasets.get_data_home`) the example runs
on scikit-learn's 8x8 digits.
"""

# %%
# Load a subset of the characters
# -------------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer
from imsat_sklearn.augment import Compose, RandomAffine
from imsat_sklearn.datasets import load_omniglot
from imsat_sklearn.metrics import clustering_accuracy

rng = np.random.default_rng(0)
try:
    omniglot = load_omniglot(image_size=21)
    characters = rng.choice(len(omniglot.target_names), size=20, replace=False)
    keep = np.isin(omniglot.target, characters)
    X, y = (
        omniglot.data[keep],
        np.unique(omniglot.target[keep], return_inverse=True)[1],
    )
    side = 21
except FileNotFoundError:
    print("Omniglot files not found: using scikit-learn's 8x8 digits instead")
    X, y = load_digits(return_X_y=True)
    X, side = (X / 16.0).astype(np.float32), 8
n_clusters = len(np.unique(y))
print(f"{X.shape[0]} images of {side}x{side} pixels, {n_clusters} characters")

# %%
# What the augmentation does
# --------------------------
# An augmentation is a callable ``T(X, generator)`` on a float32 torch batch
# of flattened images; ``RandomAffine`` reshapes each row to an image, warps
# it by its own random affine map and flattens it back. Here are eight
# distortions of each of six characters, with the default ranges
# (rotation up to 10 degrees, scaling by up to 20 %, shear up to 0.3, shift
# up to a tenth of the side).
affine = RandomAffine(image_shape=(side, side))
generator = torch.Generator().manual_seed(0)
examples = [np.flatnonzero(y == k)[0] for k in range(6)]
n_draws = 8
fig, axes = plt.subplots(
    len(examples), n_draws + 1, figsize=(7.5, 5.4), layout="constrained"
)
for row, index in enumerate(examples):
    batch = torch.from_numpy(np.repeat(X[index : index + 1], n_draws, axis=0))
    distorted = affine(batch, generator).numpy()
    axes[row, 0].imshow(X[index].reshape(side, side), cmap="gray_r")
    for col in range(n_draws):
        axes[row, col + 1].imshow(
            distorted[col].reshape(side, side), cmap="gray_r"
        )
for ax in axes.flat:
    ax.set(xticks=[], yticks=[])
for ax in axes[:, 0]:
    ax.spines[:].set(color="tab:blue", linewidth=2.5)
axes[0, 0].set_title("original", fontsize=9)
fig.suptitle("RandomAffine: eight random distortions of each character")
plt.show()

# %%
# Cluster with each augmentation
# ------------------------------
# The same network and schedule for each; only ``augmentation`` changes. A
# list of augmentations adds up their penalties ("VAT + affine"), while
# :class:`~imsat_sklearn.augment.Compose` chains them into one ("VAT &
# affine"): VAT's adversarial step is taken around the distorted image, and
# the network's output there must match its output on the original. The
# network has its default
# size, and the schedule is fixed at 100 epochs (``max_iter=100`` with
# ``tol=None``) of minibatches of 100: the default stopping rule would end
# each fit at a different point (on the digits, one of the three ran into
# the 200-epoch cap without settling), so the comparison would mix the
# augmentation with the length of training.
augmentations = {
    "VAT": "vat",
    "affine": affine,
    "VAT + affine": ["vat", affine],
    "VAT & affine": Compose([affine, "vat"]),
}
models, accuracies = {}, {}
for name, augmentation in augmentations.items():
    models[name] = IMSATClusterer(
        n_clusters=n_clusters,
        augmentation=augmentation,
        batch_size=100,
        max_iter=100,
        tol=None,
        n_init=1,  # one training each: the augmentations compared at equal cost
        random_state=0,
    ).fit(X)
    accuracies[name] = clustering_accuracy(y, models[name].labels_)
    print(f"{name:13s} ACC {accuracies[name]:.3f}")

# %%
# Accuracy, and the clusters the affine model finds
# -------------------------------------------------
# Distortions that keep a character's identity tell the network more about
# these images than closeness in pixel space does: two drawings of one
# character rarely overlap pixel for pixel. The paper finds the affine
# distortions far better than VAT on Omniglot (45.1 % against 24.0 %
# accuracy on its set of 100 characters), and both together better still
# (70.0 %). On the 242 characters of the benchmark set with the paper's
# settings the chain (``Compose``) reproduces that ordering, where the sum
# does not (see the reproduction page). This small run is different: on the
# 20 characters above (one seed, one CPU thread, 400 updates) the affine
# distortions beat VAT by less (0.34 against 0.30), and both combinations
# lowered the accuracy (the sum 0.26, the chain 0.17, with half the
# clusters empty). On the digits, where the example falls back without the
# Omniglot files, the affine distortions gave 0.94 against VAT's 0.86, the
# sum 0.90 and the chain 0.96.
#
# On the right, the four purest and the four least pure clusters of the best
# model (of those with at least ten members), with ten random members each;
# a red frame marks a drawing of another character than the one most of its
# cluster shows. The impure clusters gather characters of similar shape.
best = max(accuracies, key=accuracies.get)
fig = plt.figure(figsize=(12, 5), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1, 2])
ax = left.subplots()
bars = ax.bar(
    list(accuracies),
    list(accuracies.values()),
    color=["tab:gray", "tab:orange", "tab:red", "tab:purple"],
)
ax.bar_label(bars, fmt="%.2f")
ax.set(
    ylabel="clustering accuracy",
    ylim=(0, 1),
    title=f"{n_clusters} characters, {len(y)} images",
)

labels = models[best].labels_
n_members = 10
sizes = np.bincount(labels, minlength=n_clusters)
purity = np.array(
    [
        np.bincount(y[labels == k]).max() / sizes[k] if sizes[k] else 0
        for k in range(n_clusters)
    ]
)
candidates = np.flatnonzero(sizes >= n_members)
ranked = candidates[np.argsort(-purity[candidates])]
clusters = np.concatenate([ranked[:4], ranked[-4:]])
axes = right.subplots(len(clusters), n_members)
for row, cluster in enumerate(clusters):
    members = np.flatnonzero(labels == cluster)
    majority = np.bincount(y[members]).argmax()
    shown = rng.choice(members, size=n_members, replace=False)
    axes[row, 0].set_ylabel(
        f"{purity[cluster]:.0%}", rotation=0, ha="right", va="center"
    )
    for col, ax in enumerate(axes[row]):
        ax.set(xticks=[], yticks=[])
        ax.imshow(X[shown[col]].reshape(side, side), cmap="gray_r")
        if y[shown[col]] != majority:
            ax.spines[:].set(color="red", linewidth=2)
right.suptitle(
    f"'{best}': the 4 purest and 4 least pure clusters, with their purity "
    "(red: another character)"
)
plt.show()
