"""News is not opinion: a post that reads as a report moves probability towards neutral.

Brand monitoring is full of headlines that report a fact about a brand ("أعلنت أرامكو ارتفاع
أرباحها بنسبة 15% في الربع الثالث", "Samsung launches the Galaxy S25 in Cairo on Tuesday"),
which a model trained on opinionated tweets reads as weakly positive or negative. A post counts
how many kinds of reporting cue it carries — a reporting verb or news marker, a number, a date,
an organisation named in the third person, a link — unless it carries an opinion cue: first or
second person, an exclamation or question mark, emoji, or a word of emotion or judgement
("غضب", "فضيحة", "furious", "praised", "scandale"). Each kind adds STRENGTH to the neutral
class's calibrated logit, from FEWEST kinds on and at most MOST; a strongly polar post keeps
its label. STRENGTH and FEWEST were chosen by cross-validation (docs/sentiment.md, the model
card).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from processors.sentiment.features import fold

STRENGTH = 0.75  # neutral logit per kind of reporting cue
FEWEST = 2  # kinds a post needs to read as news
MOST = 3  # kinds counted at most

# Arabic words are matched folded (ة→ه, ى→ي, no hamza on alef: `core.text.normalize`), also
# behind the clitics و ف ب ل and the article.
_CUES_AR = {
    "reporting": (
        "اعلن اعلنت تعلن يعلن قال قالت تقول يقول وفقا بحسب حسب افادت افاد تفيد كشفت كشف تكشف "
        "يكشف اكد اكدت اوضح اوضحت صرح صرحت ذكرت ذكر اشار اشارت نقلت نقل تعتزم يعتزم تخطط "
        "يخطط تدرس يدرس اطلقت اطلق تطلق يطلق افتتحت افتتح تفتتح يفتتح وقعت وقع اتفقت تتفاوض "
        "يتفاوض عاجل رسميا تقرير بيان مصدر مصادر خبر بالفيديو بالصور تبدا يبدا بدات استدعت"
    ),
    "date": (
        "الاحد الاثنين الثلاثاء الاربعاء الخميس الجمعه السبت يناير فبراير مارس ابريل مايو "
        "يونيو يوليو اغسطس سبتمبر اكتوبر نوفمبر ديسمبر الربع النصف امس اليوم غدا الاسبوع "
        "الشهر العام المقبل القادم الماضي"
    ),
    "number": "مليون ملايين مليار مليارات تريليون الف بالمئه بالمائه نسبه",
    "organisation": "شركه الشركه مجموعه بنك مصرف هيئه وزاره نادي مؤسسه",
}
_CUES_LATIN = {
    "reporting": (
        "announced announces announce said says reported reports according launches launched "
        "launch unveils unveiled opens opened plans signs signed expands names appoints "
        "orders recalls releases breaking official statement spokesperson sources "
        "annonce annoncé lance lancé selon d'après communiqué dévoile inaugure prévoit signé "
        "publié officiel"
    ),
    "date": (
        "monday tuesday wednesday thursday friday saturday sunday january february march april "
        "june july august september october november december quarter yesterday today "
        "tomorrow week year lundi mardi mercredi jeudi vendredi samedi dimanche janvier "
        "février mars avril mai juin juillet août septembre octobre novembre décembre "
        "trimestre semestriels semestriel hier demain semaine année"
    ),
    "number": "million millions billion billions trillion milliard milliards percent",
    "organisation": "company group firm bank société groupe banque",
}
_OPINION_AR = (
    "انا احنا عندي عندكم انتم انتو انت حضرتك "
    "غضب غاضب غاضبون غاضبين استياء انتقادات انتقاد ينتقد ينتقدون انتقد فضيحه كارثه كارثي "
    "ماساه اشاده يشيد يشيدون احتفاء سعداء سعيد منبهر منبهرين رائع رائعه ممتاز باهر سيء سيئه "
    "مخيبه فاشل سوء احتجاجات احتجاج مقاطعه تلاعب اهمال يشتكون شكاوي فادحه"
)
_OPINION_LATIN = (
    "i i'm im my me we our you your u "
    "je j'ai moi mon mes nous vous tu ton "
    "furious outrage outraged angry slam slams slammed blast blasts criticism criticised "
    "criticized praised praise thrilled love loved hate disaster scandal scandalous shameful "
    "terrible awful best outstanding rave amazing great worst "
    "colère dénoncent dénonce scandale scandaleux succès ravis génial catastrophe honte"
)
_ARABIC_CLITICS = [c + p + a for c in ("", "و", "ف") for p in ("", "ب", "ل") for a in ("", "ال")]
_ARABIC = re.compile("[\u0600-\u06ff]")
OPINION = "opinion"


def _forms(words: str) -> set[str]:
    """Folded words, Arabic ones also behind clitics (و ف, ب ل, the article)."""
    folded = {fold(word) for word in words.split()}
    return {c + w for w in folded for c in (_ARABIC_CLITICS if _ARABIC.match(w) else [""])}


# One look-up per word: word -> its kind of cue (an opinion word is of the kind OPINION).
_KIND_OF = {
    form: kind
    for kind, words in [(k, _CUES_AR[k] + " " + _CUES_LATIN[k]) for k in _CUES_AR]
    + [(OPINION, _OPINION_AR + " " + _OPINION_LATIN)]
    for form in _forms(words)
}
# Punctuation that may cling to a word ("الشركة،", "Tuesday,"); the apostrophe stays (d'après).
_CLINGING = ',.;:!?؟،؛()[]{}"«»…|/-–—_#'
_NUMBER = re.compile(r"\d|%|\$|€")
_OPINION_MARK = re.compile(r"[!?؟\U0001f300-\U0001faff\u2600-\u27bf]")


@dataclass(frozen=True)
class NewsCues:
    """What made a post read as news, or the opinion cue that kept it from it."""

    found: dict[str, str]  # kind of reporting cue -> the text it matched
    opinion: str | None  # the first opinion cue, which cancels the news reading

    @property
    def kinds(self) -> int:
        """Kinds of reporting cue that count: 0 with an opinion cue or fewer than FEWEST."""
        kinds = len(self.found)
        return 0 if self.opinion is not None or kinds < FEWEST else min(kinds, MOST)

    @property
    def neutral_shift(self) -> float:
        """What this post adds to the neutral class's calibrated logit."""
        return STRENGTH * self.kinds


def news_cues(text: str) -> NewsCues:
    """The reporting and opinion cues of one post (folded as the model reads it)."""
    folded = fold(text)
    found: dict[str, str] = {}
    for word in folded.split():
        kind = _KIND_OF.get(word.strip(_CLINGING))
        if kind is not None and kind not in found:
            found[kind] = word.strip(_CLINGING)
    opinion = found.pop(OPINION, None)
    if opinion is None and (mark := _OPINION_MARK.search(folded)):
        opinion = mark.group()
    if "number" not in found and (digit := _NUMBER.search(folded)):
        found["number"] = digit.group()
    if "↗" in folded:  # a link, as folding writes it
        found["link"] = "↗"
    return NewsCues(found, opinion)


def neutral_shifts(texts: Sequence[str]) -> np.ndarray:
    """Per text, the amount added to the neutral class's calibrated logit."""
    return np.array([news_cues(text).neutral_shift for text in texts], dtype=np.float64)


def news_why(text: str) -> str | None:
    """In words, for `--explain`: why the post was (or was not) read as news; None when it
    has no reporting cue at all."""
    cues = news_cues(text)
    if not cues.found:
        return None
    said = ", ".join(f"{kind} {match!r}" for kind, match in cues.found.items())
    if cues.opinion is not None:
        return f"not read as news: opinion cue {cues.opinion!r} (reporting cues: {said})"
    if not cues.kinds:
        return f"not read as news: fewer than {FEWEST} kinds of reporting cue ({said})"
    return f"reads as news ({said}): neutral +{cues.neutral_shift:.2f}"
