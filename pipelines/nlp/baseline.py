"""TF-IDF + logistic regression baseline, scored by cross-validation on the file it is given.

Only for comparison with the rule tagger (`newswatch eval --baseline`); nothing trained here is
saved or shipped.
"""
from __future__ import annotations

from .evaluate import EVENT_TYPES


def cross_validated_predictions(texts: list[str], gold: list[set[str]], folds: int = 5) -> list[set[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    predicted: list[set[str]] = [set() for _ in texts]
    for label in EVENT_TYPES:
        y = [int(label in g) for g in gold]
        positives = sum(y)
        if positives < 2 or positives > len(y) - 2:
            continue  # too few examples of one side to cross-validate
        model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
            LogisticRegression(max_iter=1000, class_weight="balanced"),
        )
        cv = StratifiedKFold(n_splits=min(folds, positives), shuffle=True, random_state=0)
        for i, p in enumerate(cross_val_predict(model, texts, y, cv=cv)):
            if p:
                predicted[i].add(label)
    return predicted
