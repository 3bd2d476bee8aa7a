"""
=======================================
Training curves: the loss and its parts
=======================================

A fitted IMSAT estimator keeps the mean minibatch loss of every epoch in
``loss_curve_`` and the terms it is made of in ``loss_parts_``. For the
clusterer the loss is

.. math:: \\mathcal{L} = R_{\\mathrm{SAT}} + \\lambda
          \\left( H(Y|X) - \\mu H(Y) \\right),

so plotting the parts shows what training trades against what: the
self-augmentation penalty :math:`R_{\\mathrm{SAT}}`, the confidence of each
prediction (low :math:`H(Y|X)`) and the balance of the clusters (high
:math:`H(Y)`, at most :math:`\\log K`). See :ref:`objective` for the
derivation.
"""

# %%
# Fit on the digits
# -----------------
# The defaults stop training once the clusters settle, after a number of
# epochs that depends on the seed (with one CPU thread and one training, 33
# to 73 epochs for seeds 0 to 9 of the digits). To show the
# curves over one fixed span we switch the stopping rule off with
# ``tol=None`` and run ``max_iter=100`` epochs, 17 updates each (minibatches
# of 100). The network keeps its default size.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.metrics import clustering_accuracy

X, y = load_digits(return_X_y=True)
X = X / 16.0

# One training (n_init=1), so that the curves below are those of the model kept.
model = IMSATClusterer(
    n_clusters=10, max_iter=100, tol=None, n_init=1, random_state=1
).fit(X)
print(
    f"{model.n_iter_} epochs, ACC {clustering_accuracy(y, model.labels_):.3f}"
)
print("loss_parts_ keys:", list(model.loss_parts_))

# %%
# The parts add up to the loss
# ----------------------------
# Each part is averaged over the minibatches of an epoch, and the loss is
# linear in them, so ``loss_curve_`` can be rebuilt from ``loss_parts_``:
parts = model.loss_parts_
rebuilt = parts["R_SAT"] + model.lam * (
    parts["H(Y|X)"] - model.mu * parts["H(Y)"]
)
print(f"largest difference: {np.max(np.abs(rebuilt - model.loss_curve_)):.1e}")

# %%
# Plot the curves
# ---------------
# At the start the network is unsure of every sample (:math:`H(Y|X)` is
# 2.26 in the first epoch, close to :math:`\log 10 = 2.30`), so the
# information term dominates the loss. Over the epochs the predictions
# become confident (:math:`H(Y|X)` is 0.11 after 30 epochs, 0.03 after 60
# and 0.01 after 100) while :math:`H(Y)` stays close to its maximum
# :math:`\log 10` (2.23-2.27 from epoch 10 on: nearly equal clusters), so
# the mutual information :math:`I(X;Y) = H(Y) - H(Y|X)` climbs to 2.24. The
# VAT penalty peaks while the clusters form (0.105 at epoch 13 in this
# run), as sharper predictions are easier to move, then falls (to 0.032 in
# the last epoch) as the network
# learns to keep them stable within the perturbation radius.
# ``lam`` sets the exchange rate between the two.
epochs = np.arange(1, model.n_iter_ + 1)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained")

axes[0].plot(epochs, model.loss_curve_, color="black", label="loss_curve_")
axes[0].plot(
    epochs, rebuilt, "--", color="tab:orange", label="rebuilt from parts"
)
axes[0].set(title="Loss", ylabel="nats")

axes[1].plot(epochs, parts["R_SAT"], color="tab:red")
axes[1].set(title=r"$R_{\mathrm{SAT}}$ (VAT penalty)")

axes[2].plot(epochs, parts["H(Y)"], color="tab:blue", label=r"$H(Y)$")
axes[2].plot(epochs, parts["H(Y|X)"], color="tab:green", label=r"$H(Y|X)$")
axes[2].plot(
    epochs,
    parts["H(Y)"] - parts["H(Y|X)"],
    color="tab:purple",
    label=r"$I(X;Y)$",
)
axes[2].axhline(np.log(10), color="gray", linestyle=":", label=r"$\log 10$")
axes[2].set(title="Entropies (minibatch estimates)")

for ax in axes:
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
axes[0].legend()
axes[2].legend(loc="center right")
plt.show()

# %%
# The same for hashing
# --------------------
# :class:`~imsat_sklearn.IMSATHasher` has four parts: the penalty, the
# conditional entropy of the code, the summed entropies of the bits (at most
# :math:`M \log 2`, reached when every bit splits the data in half) and the
# summed mutual information between pairs of bits, which the loss adds as a
# penalty so that the bits carry different information. The same fixed
# 100 epochs: the bits stay balanced throughout (their entropies sum to
# about 10.9 nats) and become certain within about 40 epochs
# (:math:`H(Y|X)` falls from 10.7 to 0.5), but the pairwise term does not
# fall to 0: it rises to about 6 nats and stays there, as 16 balanced bits
# that are sure about every image cannot all be independent on data made of
# ten main groups.
hasher = IMSATHasher(
    n_bits=16, max_iter=100, tol=None, random_state=0
).fit(X)

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
hashing_epochs = np.arange(1, hasher.n_iter_ + 1)
for name, values in hasher.loss_parts_.items():
    ax.plot(hashing_epochs, values, label=name)
ax.axhline(16 * np.log(2), color="gray", linestyle=":", label=r"$16 \log 2$")
ax.set(
    xlabel="epoch", ylabel="nats", title="IMSATHasher.loss_parts_ (16 bits)"
)
ax.grid(alpha=0.3)
ax.legend(loc="center right")
plt.show()
