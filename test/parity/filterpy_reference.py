"""Reference numbers for the UKF parity test (test/unit/twin/estimation/filterpy-parity.test.ts).

A direct numpy/scipy transcription of the algorithm of FilterPy's UnscentedKalmanFilter with
MerweScaledSigmaPoints (default sqrt = scipy.linalg.cholesky, inverse = numpy.linalg.inv, default
mean/residual functions, sigma points regenerated from the prior after predict as FilterPy does since
2019). It exists because FilterPy itself cannot be installed here; with FilterPy available, replacing
`ukf_run` by FilterPy's own filter must give the same numbers.

Prints JSON: the model constants, the measurement sequence (with missing rows as null) and, per step,
the prior and posterior x and P and the NIS.
"""
import json
import sys

import numpy as np
from scipy.linalg import cholesky

N, M = 3, 2
ALPHA, BETA, KAPPA = 0.3, 2.0, 0.0


def fx(x, dt):
    return np.array([x[0] + dt * x[1], x[1] - dt * 0.5 * np.sin(x[0]), x[2] * np.exp(-0.1 * dt)])


def hx(x):
    return np.array([x[0] ** 2 + x[2], np.arctan2(x[1], 1.0 + x[2] ** 2)])


def sigma_points(x, P):
    lam = ALPHA ** 2 * (N + KAPPA) - N
    U = cholesky((lam + N) * P)
    s = np.zeros((2 * N + 1, N))
    s[0] = x
    for k in range(N):
        s[k + 1] = x + U[k]
        s[N + k + 1] = x - U[k]
    return s


def weights():
    lam = ALPHA ** 2 * (N + KAPPA) - N
    c = 0.5 / (N + lam)
    Wm = np.full(2 * N + 1, c)
    Wc = np.full(2 * N + 1, c)
    Wc[0] = lam / (N + lam) + (1 - ALPHA ** 2 + BETA)
    Wm[0] = lam / (N + lam)
    return Wm, Wc


def ut(sigmas, Wm, Wc, noise):
    x = np.dot(Wm, sigmas)
    y = sigmas - x[np.newaxis, :]
    P = np.dot(y.T, np.dot(np.diag(Wc), y))
    return x, P + noise


def ukf_run(x, P, Q, R, zs, dts):
    Wm, Wc = weights()
    out = []
    for z, dt in zip(zs, dts):
        sig = sigma_points(x, P)
        sf = np.array([fx(s, dt) for s in sig])
        x, P = ut(sf, Wm, Wc, Q)
        sf = sigma_points(x, P)
        prior = (x.copy(), P.copy())
        used = [i for i in range(M) if z[i] is not None]
        nis = 0.0
        if used:
            sh = np.array([hx(s)[used] for s in sf])
            zp, S = ut(sh, Wm, Wc, R[np.ix_(used, used)])
            SI = np.linalg.inv(S)
            Pxz = np.zeros((N, len(used)))
            for i in range(2 * N + 1):
                Pxz += Wc[i] * np.outer(sf[i] - x, sh[i] - zp)
            K = np.dot(Pxz, SI)
            y = np.array([z[i] for i in used]) - zp
            x = x + np.dot(K, y)
            P = P - np.dot(K, np.dot(S, K.T))
            nis = float(y @ SI @ y)
        out.append({'xPrior': prior[0].tolist(), 'PPrior': prior[1].ravel().tolist(), 'x': x.tolist(), 'P': P.ravel().tolist(), 'nis': nis})
    return out


def main():
    rng = np.random.default_rng(20261126)
    x0 = np.array([0.4, -0.2, 0.8])
    P0 = np.array([[0.5, 0.1, 0.0], [0.1, 0.3, 0.05], [0.0, 0.05, 0.2]])
    Q = np.diag([1e-3, 2e-3, 5e-4])
    R = np.array([[0.04, 0.01], [0.01, 0.02]])
    truth = np.array([0.5, 0.0, 1.0])
    zs, dts = [], []
    for k in range(40):
        dt = 0.1 + 0.05 * (k % 3)
        truth = fx(truth, dt)
        z = hx(truth) + rng.multivariate_normal(np.zeros(M), R)
        row = [float(v) for v in z]
        if k % 7 == 3:
            row[1] = None
        if k % 11 == 5:
            row = [None, None]
        zs.append(row)
        dts.append(dt)
    steps = ukf_run(x0.copy(), P0.copy(), Q, R, zs, dts)
    json.dump({'alpha': ALPHA, 'beta': BETA, 'kappa': KAPPA, 'x0': x0.tolist(), 'P0': P0.ravel().tolist(), 'Q': Q.ravel().tolist(), 'R': R.ravel().tolist(), 'zs': zs, 'dts': dts, 'steps': steps}, sys.stdout)


if __name__ == '__main__':
    main()
