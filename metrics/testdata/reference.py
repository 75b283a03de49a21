"""Reference scores for metrics' tests, computed with numpy the way scikit-learn does.

scikit-learn is not needed: each score below follows the scikit-learn code it names
(1.5 and later unless said), and the ROC AUC is counted another way (pairs of samples)
so that the Go curve is checked, not copied. Reads cases as JSON on stdin, writes
results as JSON on stdout.
"""
import json
import sys

import numpy as np


def report_text(names, p, r, f, s, acc, macro, weighted, n, digits):
    # sklearn.metrics.classification_report, output_dict=False.
    headers = ["precision", "recall", "f1-score", "support"]
    longest_last_line_heading = "weighted avg"
    name_width = max(len(cn) for cn in names)
    width = max(name_width, len(longest_last_line_heading), digits)
    head_fmt = "{:>{width}s} " + " {:>9}" * len(headers)
    report = head_fmt.format("", *headers, width=width)
    report += "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for row in zip(names, p, r, f, s):
        report += row_fmt.format(*row, width=width, digits=digits)
    report += "\n"
    row_fmt_accuracy = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
    report += row_fmt_accuracy.format("accuracy", "", "", acc, n, width=width, digits=digits)
    report += row_fmt.format("macro avg", *macro, n, width=width, digits=digits)
    report += row_fmt.format("weighted avg", *weighted, n, width=width, digits=digits)
    return report


def divide(a, b):
    # _prf_divide with zero_division="warn": 0 where the denominator is 0.
    out = np.zeros(len(a))
    ok = b != 0
    out[ok] = a[ok] / b[ok]
    return out


def pair_auc(pos, neg):
    # The Mann-Whitney statistic: the share of (positive, negative) pairs ordered right,
    # ties counting one half; equal to the trapezoidal area under roc_curve.
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def score(case):
    names = case["classes"]
    c = len(names)
    y = np.array(case["labels"], dtype=np.int64)
    n = len(y)
    eps = np.finfo(np.float64).eps
    out = {}
    if c == 2:
        p1 = np.array(case["probs"], dtype=np.float64)
        prob = np.stack([1 - p1, p1], axis=1)  # log_loss's np.append(1 - y_pred, y_pred)
        pred = (p1 >= case["threshold"]).astype(np.int64)
        scores = [None, p1]
    else:
        prob = np.array(case["probs"], dtype=np.float64).reshape(n, c)
        pred = np.argmax(prob, axis=1)
        scores = [prob[:, k] for k in range(c)]

    # confusion_matrix(y, pred, labels=range(c)) and precision_recall_fscore_support.
    cm = np.zeros((c, c), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    tp = np.diag(cm)
    pred_sum, true_sum = cm.sum(axis=0), cm.sum(axis=1)
    precision = divide(tp, pred_sum)
    recall = divide(tp, true_sum)
    f1 = divide(2 * tp, true_sum + pred_sum)
    macro = [float(np.average(v)) for v in (precision, recall, f1)]
    weighted = [float(np.average(v, weights=true_sum)) for v in (precision, recall, f1)]
    accuracy = float(tp.sum() / n)
    out.update(confusion=cm.tolist(), precision=precision.tolist(), recall=recall.tolist(), f1=f1.tolist(),
               support=true_sum.tolist(), macro=macro, weighted=weighted, accuracy=accuracy)
    out["text2"] = report_text(names, precision, recall, f1, true_sum, accuracy, macro, weighted, n, 2)
    out["text4"] = report_text(names, precision, recall, f1, true_sum, accuracy, macro, weighted, n, 4)

    # roc_auc_score: binary, or multi_class="ovr" with average="macro" (undefined, an error
    # in scikit-learn, when a class is absent from y or is all of it).
    aucs = []
    for k in range(c):
        if scores[k] is None:
            aucs.append(None)
            continue
        pos, neg = scores[k][y == k], scores[k][y != k]
        aucs.append(pair_auc(pos, neg) if len(pos) and len(neg) else None)
    out["aucs"] = aucs
    if c == 2:
        out["auc"] = aucs[1]
    else:
        out["auc"] = None if any(a is None for a in aucs) else float(np.average(aucs))

    # top_k_accuracy_score (multiclass branch).
    topk = {}
    if c > 2:
        sorted_pred = np.argsort(prob, axis=1, kind="mergesort")[:, ::-1]
        for k in case["topk"]:
            if 1 <= k < c:
                hits = (y == sorted_pred[:, :k].T).any(axis=0)
                topk[str(k)] = [int(hits.sum()), float(np.average(hits))]
    out["topk"] = topk

    # log_loss: 1.5 and later clip only; 1.2 to 1.4 (eps="auto") clip, then renormalise.
    clipped = np.clip(prob, eps, 1 - eps)
    rows = np.arange(n)
    out["log_loss"] = float(np.average(-np.log(clipped[rows, y])))
    renorm = clipped / clipped.sum(axis=1)[:, np.newaxis]
    out["log_loss_renorm"] = float(np.average(-np.log(renorm[rows, y])))

    # The most confident mistakes of each true class.
    wrong_prob = prob[rows, pred]
    mistakes = []
    for k in range(c):
        idx = np.flatnonzero((y == k) & (pred != k))
        idx = idx[np.argsort(-wrong_prob[idx], kind="stable")][: case["mistakes"]]
        mistakes += [[int(i), k, int(pred[i]), float(wrong_prob[i])] for i in idx]
    out["mistakes"] = mistakes
    return out


json.dump([score(c) for c in json.load(sys.stdin)], sys.stdout)
