"""Text normalisation and pinyin helpers for the knowledge-base search.

Everything here is pure; the caches fill lazily on first use, nothing is computed at import.

Normalised text is: NFKC (full-width letters and digits become ASCII), case-folded, traditional
characters converted to simplified (zhconv), and every character that is neither a CJK ideograph
nor an ASCII letter or digit replaced by a single space.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable

# A query longer than this (raw characters) is cut before any work is done on it: agents type
# short queries, and a pasted document must not cost more than a normal query.
RAW_QUERY_LIMIT = 256
# Units (characters / words / pinyin pieces) kept from a normalised query.
QUERY_UNIT_LIMIT = 48

# Function words, question words and colloquial fillers; spoken queries are full of them
# ("能不能", "想问", "到哪去"). A query pair made only of these barely counts
# (query.FILLER_FACTOR), one holding one counts less, and they are no key terms
# (answering.key_terms).
FILLER = frozenset(
    "的了吗呢啊吧呀么嘛呗啦哦哈咋啥俺我你他她它们这那哪谁就都也还又是个一怎样什该得着过儿"
    "在去要想有能给把被让到会说"
)

_NON_WORD = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_NON_WORD_CHAR = re.compile(
    r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"
)
_RUN = re.compile(r"[a-z]+|[0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_UNIT = re.compile(r"[a-z]+|[0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")

# Toneless syllables of Mandarin as pypinyin writes them (ü as v). The interjection-only
# syllables m, n, ng, hm, hng are left out: as typed input those letters are initials.
_SYLLABLES = frozenset(
    """a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can
    cang cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan
    chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia
    dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fiao
    fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai
    han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao
    jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai
    kuan kuang kui kun kuo la lai lan lang lao le lei len leng li lia lian liang liao lie lin ling liu
    lo long lou lu luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming
    miu mo mou mu na nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou nu
    nuan nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu qi
    qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou
    ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei shen
    sheng shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai
    tan tang tao te tei teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei
    wen weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye
    yi yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang
    zhao zhe zhei zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou
    zu zuan zui zun zuo""".split()
)
# Spellings people type for ü-syllables that pypinyin writes with v.
_TYPED_ALIASES = {"lue": "lve", "nue": "nve", "lu:": "lv", "nu:": "nv"}
_MAX_SYLLABLE = 6

# Cost of a typed piece when splitting a latin run: whole syllables are preferred to single
# letters, so "xian" reads as one syllable and "gjj" as three initials.
_SYLLABLE_COST = 1.0
_INITIAL_COST = 1.6


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x2FFFF
    )


@functools.lru_cache(maxsize=1)
def _zhconv() -> Callable[[str, str], str]:
    import zhconv  # untyped: convert(text, locale) -> str

    convert: Callable[[str, str], str] = zhconv.convert
    return convert


@functools.lru_cache(maxsize=1)
def _jieba_cut() -> Callable[[str], Iterable[str]]:
    import rjieba  # untyped: cut(text) -> the words, in order

    cut: Callable[[str], Iterable[str]] = rjieba.cut
    return cut


def to_simplified(text: str) -> str:
    return _zhconv()(text, "zh-cn")


def normalize(text: str) -> str:
    """Normalised form used for matching (see module docstring); words separated by one space."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = to_simplified(text)
    return _NON_WORD.sub(" ", text).strip()


def normalize_aligned(text: str) -> tuple[str, list[int]]:
    """Normalised text that keeps one character per position, and where each came from.

    Separators become single spaces instead of being collapsed, so matches found in the result
    map back onto the original text: result[i] comes from text[origin[i]].
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if len(folded) == len(text):
        simple = to_simplified(folded)
        if len(simple) == len(folded):
            return _NON_WORD_CHAR.sub(" ", simple), list(range(len(text)))
    # Rare: a character that NFKC expands (㈠ → (一)) or a phrase conversion changing length.
    pieces: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        piece = _NON_WORD_CHAR.sub(" ", to_simplified(unicodedata.normalize("NFKC", ch).casefold()))
        pieces.append(piece)
        origin.extend([i] * len(piece))
    return "".join(pieces), origin


def units(segment: str) -> list[str]:
    """Split one normalised segment into units: each CJK character, each latin or digit run."""
    return _UNIT.findall(segment)


# Every syllable each CJK character has been read as, in any text this process read (grows
# only; a tuple per character, replaced whole, so readers never see one change). Text holding
# the characters "ab" holds one of their reading pairs in its syllable channel, which lets the
# index rule out articles for a character pair from its posting lists.
_READINGS: dict[str, tuple[str, ...]] = {}


def readings(ch: str) -> tuple[str, ...]:
    """Every syllable the CJK character ch has been read as so far (() if never read)."""
    return _READINGS.get(ch, ())


@functools.lru_cache(maxsize=300_000)
def _word_syllables(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    # pypinyin's hints say an `errors` callback returns a str; it may return a list, one item
    # per character (its documentation), which keeps characters without a reading one each.
    out = lazy_pinyin(word, style=Style.NORMAL, errors=lambda chars: list(chars))  # type: ignore[arg-type,return-value]
    if len(out) != len(word):
        out = [
            lazy_pinyin(ch, style=Style.NORMAL, errors=lambda c: [c])[0]  # type: ignore[arg-type,return-value]
            for ch in word
        ]
    joined = " ".join(out)
    if joined.split() != out or "|" in joined:
        # Syllables are the tokens of the space-joined, "|"-separated syllable channel, which
        # the index also splits back into index keys (knowledge_base.entries); a reading that
        # is empty or holds a separator would make the two disagree (and an empty one has no
        # initial). pypinyin's tables have none; this keeps the guarantee if they ever do.
        out = [s if s and s.split() == [s] and "|" not in s else ch for s, ch in zip(out, word)]
    for ch, syllable in zip(word, out):
        seen = _READINGS.get(ch, ())
        if syllable not in seen:
            _READINGS[ch] = (*seen, syllable)
    return tuple(out)


def cjk_syllables(run: str) -> list[str]:
    """Toneless syllable of each character of a run of CJK characters.

    Words come from rjieba and are converted with pypinyin's phrase table, so polyphones read
    as in context (银行 → yin hang); results are cached per word, which keeps index builds fast.
    A character without a reading keeps itself as its "syllable". A syllable is never empty
    and holds no whitespace and no "|".
    """
    out: list[str] = []
    for word in _jieba_cut()(run):
        out.extend(_word_syllables(word))
    return out


@dataclass(frozen=True, slots=True)
class Unit:
    """One matchable piece of text.

    text: the normalised character or latin/digit word ("" for typed pinyin pieces);
    syllable: toneless syllable ("" when only an initial was typed);
    initial: first letter of the syllable (or of the word).
    """

    text: str
    syllable: str
    initial: str

    @property
    def typed_pinyin(self) -> bool:
        return not self.text


def segment_columns(segment: str) -> tuple[list[str], list[str]]:
    """Units of a normalised segment and the syllable of each (a latin/digit word is its own
    syllable; a CJK character without a known reading keeps itself)."""
    texts: list[str] = []
    syllables: list[str] = []
    for run in _RUN.findall(segment):
        if run[0] < "\u0080":
            texts.append(run)
            syllables.append(run)
        else:
            texts.extend(run)
            syllables.extend(cjk_syllables(run))
    return texts, syllables


def segment_units(segment: str) -> list[Unit]:
    """Units of a normalised segment as Unit values (query side)."""
    texts, syllables = segment_columns(segment)
    return [Unit(t, s, s[0]) for t, s in zip(texts, syllables)]


def split_pinyin(letters: str) -> list[Unit] | None:
    """Read a run of latin letters as typed pinyin: full syllables, initials, or a mix.

    Returns None when the run is too long to be pinyin. Single letters become initials
    ("gjj" → g j j); "shebaoka" → she bao ka; an unfinished last syllable ("shebaok") ends in
    an initial, so per-keystroke queries keep matching.
    """
    n = len(letters)
    if n == 0 or n > 40:
        return None
    best: list[tuple[float, int, str]] = [(0.0, 0, "")] + [(float("inf"), 0, "")] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - _MAX_SYLLABLE), end):
            piece = letters[start:end]
            if end - start == 1:
                cost = _INITIAL_COST
                kind = "i"
            else:
                piece = _TYPED_ALIASES.get(piece, piece)
                if piece not in _SYLLABLES:
                    continue
                cost = _SYLLABLE_COST
                kind = "s"
            total = best[start][0] + cost
            if total < best[end][0]:
                best[end] = (total, start, kind + piece)
    pieces: list[str] = []
    end = n
    while end > 0:
        _, start, tagged = best[end]
        pieces.append(tagged)
        end = start
    pieces.reverse()
    n_initials = sum(1 for p in pieces if p[0] == "i")
    if n_initials > len(pieces) - n_initials:
        # Mostly loose letters: the syllables found are accidents of an initials string
        # ("gatxz" is 港澳通行证, not "ga" + t x z).
        return [Unit("", "", ch) for ch in letters]
    return [Unit("", p[1:], p[1]) if p[0] == "s" else Unit("", "", p[1]) for p in pieces]
