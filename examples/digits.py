"""Train a small network on scikit-learn's handwritten digits (8x8 images, 10 classes)
======================================================================================

Run: ``python examples/digits.py``

symopt derives each activation's derivative with SymPy, generates the forward
and backward passes as Numba code, and trains with Adam on minibatches. The
summary shows per-layer diagnostics (gradient sizes, activation statistics,
saturated and dead units) for the last epoch.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import symopt


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    net = symopt.Network(64, [symopt.Dense(128, "tanh"), symopt.Dense(64, "relu"), symopt.Dense(10)], seed=0)
    objective = symopt.cross_entropy(net)
    print(symopt.derive(objective))
    result = symopt.solve(objective, (X_train, y_train),
                          optimizer=symopt.Adam(lr=1e-3, batch_size=32, epochs=30, seed=0))
    print(result)
    accuracy = np.mean(result.predict(X_test) == y_test)
    print(f"\ntest accuracy: {accuracy:.2%} on {len(y_test)} held-out digits")


if __name__ == "__main__":
    main()
