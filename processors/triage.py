"""Triage: sort a mention into complaint, question, praise or other, so answers go first.

Rules, in order (documented in docs/sentiment.md):
1. complaint: a problem cue ("refund", "delayed", "ما وصل", "استرجاع", "maksoor"...) with
   negative sentiment, or with neutral sentiment when the mention does not ask anything
   ("how long does a refund take?" is a question, "got my refund fast, thanks" is praise);
2. complaint: negative sentiment with a service/product word ("خدمة العملاء", "app", "delivery")
   or words addressed to the brand ("you", "عندكم", "votre") — for a question only when the
   negative sentiment is sure (probability >= 0.6);
3. question: a question mark (? ؟) or an interrogative ("هل، كيف، ليش، شو، وين، امتى، متى",
   how, why, pourquoi...); English and French ones only at the start of a clause, where they ask;
4. praise: positive sentiment with probability >= 0.55; 5. other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from core.events import Sentiment, TriageLabel
from processors.language import detect_language
from processors.sentiment.features import Features, fold
from processors.triage_model import default_model as complaint_model
from processors.triage_model import sigmoid

_PROBLEM_CUES = (
    "refund;refunded;reimburse;broke;delayed;delay;late again;broken;damaged;defective;faulty;"
    "not working;doesnt work;doesn't work;stopped working;won't turn on;never arrived;"
    "hasnt arrived;hasn't arrived;not arrived;not delivered;never received;still waiting;"
    "still no;no response;no reply;no one answers;nobody answers;charged twice;"
    "double charged;overcharged;cancelled my;canceled my;wrong item;wrong order;missing;"
    "lost my;scam;fraud;out of service;outage;keeps crashing;crashes;crashed;slow;"
    "remboursement;rembourser;remboursez;en retard;retard;en panne;cassé;toujours pas;"
    "jamais reçu;pas reçu;arnaque;aucune réponse;ne marche pas;ne fonctionne pas;"
    "coupée;coupé;annulé;prélevé deux fois;facturé deux fois;lent;"
    "ma wesel;mawesel;ma weselni;maksoor;maksour;fasel;ma7adesh;ma 7ada;mafi 7ada;"
    "5asamo;felosy;flousi;3otl;bati2;ba2i2;ba6i2;"
    "disappeared;no internet;without internet;no signal;never came;never showed up;"
    "didn't show up;jamais venu;annulée;"
    "charged me;without my consent;without permission;no reason;"
    "ma ye5demch;mayekhdemch;ma5demch;makhdemch;5ayeb;khayeb;mochkla;mochkel;"
    "ma wselnich;mawsolnich;9a3ed nestanna;sra9;sar9a"
)
_PROBLEM_CUES_AR = (
    "ما وصل;ماوصل;ما وصلني;ماوصلني;ما وصلت;لم يصل;لم تصل;ما وصلتني;مو واصل;"
    "ما جاني;ماجاني;ما اجا;متاخر;متاخره;تاخير;تاخر;استرجاع;استرداد;ترجيع;رجعوا فلوسي;"
    "فلوسي;تعطل;تعطلت;مكسور;مكسوره;خربان;خربانه;عطلان;عطلانه;معطل;عطل;ما يشتغل;مايشتغل;"
    "ما بيشتغل;مش شغال;مش شغاله;مو شغال;لا يعمل;ما حد رد;ماحد رد;محدش رد;محدش بيرد;"
    "بطيء;بطيئ;بطيئه;معلق;يعلق;بيعلق;عم يعلق;فاصل;مقطوع;ينقطع;انقطاع;"
    "ما حدا رد;ولا رد;بدون رد;لا احد يرد;نصب;نصابين;احتيال;خصم مرتين;انخصم;"
    "وين طلبي;طلبي وين;لغوا الطلب;الغاء;انلغت;اتلغي;اتلغت;ناقص;غلط;"
    "خصموا;اتخصم;اتخصملي;سحبوا;اتسحب;انسحب;بدون سبب;من غير سبب;بلا سبب;دون سبب;"
    "بدون علمي;من غير علمي;بدون اذني;مسكر;موقف;اتوقف;وقفوا;مرفوض;رفضوا"
)
_SERVICE_CUES = (
    "order;delivery;shipping;package;parcel;app;update;battery;screen;account;support;"
    "customer service;customer care;service;staff;agent;bill;billing;charge;subscription;"
    "internet;network;signal;wifi;product;flight;booking;driver;bank;card;transfer;"
    "you;your;you guys;y'all;u;ur;"
    "commande;livraison;colis;appli;application;compte;service client;facture;abonnement;"
    "réseau;vous;votre;vos"
)
_SERVICE_CUES_AR = (
    "طلب;طلبي;طلبيه;توصيل;شحن;شحنه;مندوب;تطبيق;برنامج;ابلكيشن;خدمه;خدمه العملاء;"
    "دعم;فاتوره;حساب;شبكه;النت;انترنت;جوال;تلفون;موبايل;بطاريه;شاشه;منتج;موظف;"
    "موظفين;اشتراك;باقه;رصيد;رحله;حجز;سواق;كابتن;بنك;بطاقه;كارت;فيزا;تحويل;حواله;"
    "صراف;"
    "انتو;انتم;عندكم;منكم;معكم;عليكم;شركتكم;خدمتكم;تطبيقكم;حضرتكم"
)
_INTERROGATIVES_AR = (
    "هل;كيف;كيفاش;ليش;ليه;لماذا;شو;ايش;وش;شنو;وين;فين;اين;امتي;ايمتي;متي;"
    "ازاي;شلون;منو;مين;كم سعر;بكم;قديش;اديش"
)
# English and French interrogatives ask only at the start of a clause ("I love how..." does not).
_INTERROGATIVES = (
    "how;why;when;where;who;which;whats;what's;what is;what are;what time;is there;are there;"
    "is it;is this;can i;can you;can someone;can anyone;could you;could someone;do you;"
    "does anyone;does it;does this;did anyone;did you;will you;will it;will there;should i;"
    "anyone know;any update;any news;pourquoi;comment;quand;où;est-ce que;combien;quel;quelle"
)
# A question stays a question unless the negative sentiment is at least this sure.
_SURE = 0.6
# Praise needs a positive that is at least this likely: the model reads much neutral news as
# weakly positive (chosen on the rules-development part of the labelled set).
_PRAISE = 0.55
# Optional Arabic clitics in front of a cue: و ف, then ب ل ك, then the article.
_CLITICS = r"(?:و|ف)?(?:ب|ل|ك)?(?:ال)?"


def _alternation(cues: str, *, gap: str = "") -> str:
    """Regex alternation of `;`-separated cues, folded as the texts they are searched in; the
    words of a cue may have `gap` between them."""
    folded = (fold(cue) for cue in cues.split(";"))
    return "|".join(re.escape(cue).replace(r"\ ", rf"\s+{gap}") for cue in folded)


def _cues(latin: str, arabic: str, *, endings: str = "", gap: str = "") -> re.Pattern[str]:
    """Latin cues as whole words; Arabic ones also behind clitics and before `endings`."""
    return re.compile(
        rf"(?<!\w)(?:{_alternation(latin, gap=gap)})(?!\w)"
        rf"|(?<!\w){_CLITICS}(?:{_alternation(arabic, gap=gap)}){endings}(?!\w)"
    )


# Problem words also inflect ("ناقصة", "متأخرين"), and a phrase keeps its meaning with up to two
# words inside the same clause ("charged me twice"); service nouns must not inflect ("طلبات" is a
# brand).
_PROBLEM = _cues(
    _PROBLEM_CUES, _PROBLEM_CUES_AR, endings="(?:ه|ين|ات|ون)?", gap=r"(?:[^\s.!?,;:؟،]+\s+){0,2}"
)
_SERVICE = _cues(_SERVICE_CUES, _SERVICE_CUES_AR)
# A handle (folded to "@") addresses the brand.
_ADDRESSED = re.compile(rf"{_SERVICE.pattern}|@")
_QUESTION = re.compile(
    rf"[?؟]|(?<!\w){_CLITICS}(?:{_alternation(_INTERROGATIVES_AR)})(?!\w)"
    rf"|(?:^|[.!,;:\n]\s*|@\s+)(?:{_alternation(_INTERROGATIVES)})(?!\w)"
)


def triage(text: str, sentiment: Sentiment) -> TriageLabel:
    """Apply the rules above to one mention and its (brand-directed) sentiment."""
    return triage_why(text, sentiment)[0]


def triage_why(text: str, sentiment: Sentiment) -> tuple[TriageLabel, str]:
    """The triage label and, in words, the rule that gave it (`triage_rule`, `--explain`)."""
    return triage_batch([text], [sentiment])[0]


def triage_batch(
    texts: Sequence[str],
    sentiments: Sequence[Sentiment],
    languages: Sequence[str] | None = None,
    features: Features | None = None,
) -> list[tuple[TriageLabel, str]]:
    """`triage_why` for a batch: the complaint model scores all English texts in one call,
    several times faster than one by one. `languages`: each text's, when the caller has
    detected them already (the pipeline does, once per mention). `features`: the texts' hashed
    features as the sentiment model extracted them (`score_with_features`); the complaint
    model then only adds a sparse dot product, with the same scores as hashing again."""
    languages = languages or [detect_language(text) for text in texts]
    english = [language == "en" for language in languages]
    model = complaint_model()
    if features is None:
        found = model.probabilities([t for t, en in zip(texts, english, strict=True) if en])
    else:
        found = sigmoid(model.logits(features))[np.flatnonzero(english)]
    english_texts = [t for t, en in zip(texts, english, strict=True) if en]
    flagged = [t for t, p in zip(english_texts, found, strict=True) if p >= 0.5]
    words = dict(zip(flagged, model.words_batch(flagged), strict=True))
    scores = iter(found.tolist())
    return [
        _triage(text, sentiment, next(scores) if en else None, words.get(text, []))
        for text, sentiment, en in zip(texts, sentiments, english, strict=True)
    ]


def _triage(
    text: str, sentiment: Sentiment, complaint: float | None, words: list[str]
) -> tuple[TriageLabel, str]:
    """The rules; `complaint` is the complaint model's probability, None when not English, and
    `words` the words that read most like a complaint when it is 0.5 or more."""
    folded = fold(text)
    negative, positive = sentiment.label == "negative", sentiment.label == "positive"
    asks = _QUESTION.search(folded)
    if (problem := _PROBLEM.search(folded)) and (negative or not (positive or asks)):
        return "complaint", f"rule 1: problem word {_said(problem)} and {_mood(sentiment)}"
    # English has a trained complaint model, better than rule 2 on real customer-care tweets.
    if complaint is not None and complaint >= 0.5:
        return "complaint", f"complaint model {complaint:.2f}: words {_quoted(words)}"
    sure = sentiment.probability >= _SURE
    addressed = None if complaint is not None else _ADDRESSED.search(folded)
    if negative and (sure or not asks) and addressed:
        return "complaint", f"rule 2: {_mood(sentiment)} about {_said(addressed)}"
    if asks:
        return "question", f"rule 3: asks ({_said(asks)})"
    if positive and sentiment.probability >= _PRAISE:
        return "praise", f"rule 4: {_mood(sentiment)}"
    return "other", f"rule 5: no problem word, question or sure praise; {_mood(sentiment)}"


def _mood(sentiment: Sentiment) -> str:
    return f"{sentiment.label} sentiment ({sentiment.probability:.2f})"


def _said(match: re.Match[str]) -> str:
    """What a cue matched, as folded text (clitics included)."""
    return repr(" ".join(match.group().split()))


def _quoted(words: list[str]) -> str:
    return ", ".join(repr(word) for word in words)
