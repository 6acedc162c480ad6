"""Generate the labelled denied-party evaluation set (deterministic, seeded).

Run from the repository root::

    python tests/data/screening/make_eval.py

It writes, next to this file:

* ``eval_list.csv`` - a synthetic list in the US Consolidated Screening List
  CSV layout (``_id, source, entity_number, type, programs, name, title,
  addresses, ..., alt_names, citizenships, dates_of_birth, nationalities``).
* ``eval_queries.csv`` - labelled queries: ``positive`` rows name the entry
  they must find; ``negative`` rows name the entry they were derived from
  (for analysis only) and must find nothing.

How ground truth is kept honest
-------------------------------
Names are built from *name groups*: every group holds the spellings of one
name (Muhammad/Mohammed/Mohamed, Aleksandr/Alexander, Qaddafi/Gaddafi).
A person's identity is (given-name group, surname group); every list entry
has a distinct identity, and a middle name or patronymic is not part of it.

Positives are re-renderings of one entry's identity (other spellings, order,
dropped or abbreviated middle name, Cyrillic script, diacritics, particles,
one typo, joined or split compound names, legal-form changes).

Negatives are *other identities*: another given name with the same surname,
another surname with the same given name, a single shared token, or a
lookalike name part. A negative is discarded when it is close to any list
identity, where "close" means: the same group, or within one edit of any of
its spellings, in either order. One edit is what the typo positives inject,
so a matcher cannot be asked to tell those apart; everything else counts.
Typos are injected only into name parts of five letters or more, because in
shorter parts one edit usually makes another real name.

Nothing here looks at any matcher's output.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

SEED = 20_240_611
HERE = Path(__file__).resolve().parent
LIST_FILE = HERE / "eval_list.csv"
QUERY_FILE = HERE / "eval_queries.csv"

CSL_COLUMNS = [
    "_id", "source", "entity_number", "type", "programs", "name", "title", "addresses",
    "federal_register_notice", "start_date", "end_date", "standard_order",
    "license_requirement", "license_policy", "call_sign", "vessel_type", "gross_tonnage",
    "gross_registered_tonnage", "vessel_flag", "vessel_owner", "remarks", "source_list_url",
    "alt_names", "citizenships", "dates_of_birth", "nationalities", "places_of_birth",
    "source_information_url", "ids",
]
QUERY_COLUMNS = [
    "query_id", "label", "kind", "query", "countries", "entry_id", "related_entry_id",
]


# --------------------------------------------------------------------------- name groups
@dataclass(eq=False)
class Group:
    """One name and its spellings. ``eq=False`` keeps identity semantics."""

    role: str
    spellings: list[str]
    gender: str = "m"
    cyrillic: str = ""
    patronymic: tuple[str, ...] = ()
    patronymic_cyrillic: str = ""
    nisba: bool = False
    compound_joined: tuple[str, ...] = ()
    gid: int = 0
    by_origin: dict[str, list[str]] = field(default_factory=dict)

    @property
    def first(self) -> str:
        return self.spellings[0]

    def spell(self, origin: str) -> list[str]:
        """Spellings used by one origin's romanisation (Korean Lim is never Lam)."""
        family = ORIGIN_FAMILIES.get(origin, (origin,))
        found = [s for o in family for s in self.by_origin.get(o, ())]
        return list(dict.fromkeys(found)) or list(self.spellings)


_REGISTRY: dict[tuple[str, str], Group] = {}
_ALL_GROUPS: list[Group] = []


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for src, dst in (("đ", "d"), ("Đ", "D"), ("ı", "i"), ("ł", "l"), ("ß", "ss"), ("ø", "o")):
        stripped = stripped.replace(src, dst)
    return stripped


def _key(text: str) -> str:
    return "".join(ch for ch in _fold(text).casefold() if ch.isalpha())


# Arabic-script names share romanisation habits across these origins.
ORIGIN_FAMILIES = {o: ("ar", "fa", "pk", "tr") for o in ("ar", "fa", "pk", "tr")}


def group(role: str, spec: str, origin: str, **kwargs: object) -> Group:
    """Register ``"A/B/C"``; a spelling already registered merges into that group."""
    spellings = [s.strip() for s in spec.split("/") if s.strip()]
    existing = next((_REGISTRY[(role, _key(s))] for s in spellings
                     if (role, _key(s)) in _REGISTRY), None)
    if existing is None:
        existing = Group(role, [], gid=len(_ALL_GROUPS), **kwargs)  # type: ignore[arg-type]
        _ALL_GROUPS.append(existing)
    for s in spellings:
        if s not in existing.spellings:
            existing.spellings.append(s)
        mine = existing.by_origin.setdefault(origin, [])
        if s not in mine:
            mine.append(s)
        _REGISTRY[(role, _key(s))] = existing
    return existing


def words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


def givens(spec: str, gender: str = "m", *, origin: str) -> list[Group]:
    return [group("given", item, origin, gender=gender) for item in spec.split("|")]


def surnames(spec: str, *, origin: str, nisba: bool = False) -> list[Group]:
    return [group("surname", item, origin, nisba=nisba) for item in spec.split("|")]


# Arabic ---------------------------------------------------------------------
AR_GIVEN_M = givens(
    "Muhammad/Mohammed/Mohamed/Mohammad/Muhammed/Mohamad|Ahmad/Ahmed/Ahmet|"
    "Mahmoud/Mahmud/Mahmood|Mustafa/Mostafa/Moustafa|Abdullah/Abdallah/Abdulla|Ali|"
    "Hassan/Hasan|Hussein/Husain/Hussain/Husayn/Hossein/Hosein/Hüseyin|"
    "Ibrahim/Ebrahim/Ibraheem/İbrahim|Yusuf/Youssef/Yousef/Yusef/Yousif|Omar/Umar/Ömer|"
    "Khalid/Khaled|Said/Saeed/Saied|Osama/Usama/Oussama|Jamal/Gamal|Tariq/Tarek/Tarik|"
    "Walid/Waleed|Faisal/Faysal/Feisal|Nasser/Nasir/Naser|Salim/Salem/Selim|Karim/Kareem|"
    "Rashid/Rasheed/Rachid|Hamza/Hamzah|Bilal|Anwar/Anouar|Ayman/Aiman|Zaid/Zayd/Zeid|"
    "Hamid/Hameed/Hamed|Majid/Majed/Maged|Adel/Adil|Samir/Sameer|Nabil/Nabeel|"
    "Yasser/Yasir/Yaser|Bashar/Bachar|Marwan|Imad/Emad|Fawzi/Fawzy|Tawfiq/Tawfik/Toufik|"
    "Ziad/Ziyad|Ismail/Ismael/Esmail|Jafar/Jaafar/Ja'far|Mansour/Mansur/Mansoor",
    origin="ar",
)
AR_GIVEN_F = givens(
    "Fatima/Fatimah/Fatma/Fatemeh|Aisha/Aysha/Ayesha/Aicha/Ayşe|"
    "Khadija/Khadijah/Khadidja|Maryam/Mariam/Meryem|Layla/Leila/Laila|"
    "Zainab/Zaynab/Zeinab/Zeynep|Nour/Noor/Nur|Huda/Hoda|Amina/Aminah/Ameena|Rania/Raniya",
    "f",
    origin="ar",
)
AR_COMPOUND = [
    group("given", spaced, "ar", compound_joined=tuple(joined.split("/")))
    for spaced, joined in (
        ("Abdul Rahman/Abdel Rahman/Abd al-Rahman/Abd Al Rahman",
         "Abdulrahman/Abdelrahman/Abdurrahman"),
        ("Abdul Aziz/Abdel Aziz/Abd al-Aziz", "Abdulaziz/Abdelaziz"),
        ("Abdul Karim/Abdel Karim/Abd al-Karim", "Abdulkarim/Abdelkarim"),
        ("Abdul Qadir/Abdel Kader/Abd al-Qadir", "Abdulqadir/Abdelkader"),
        ("Abdul Latif/Abdel Latif/Abd al-Latif", "Abdullatif/Abdellatif"),
        ("Abdul Salam/Abdel Salam/Abd al-Salam", "Abdulsalam/Abdessalam/Abdussalam"),
        ("Nur al-Din/Nour Eddine/Nur ad-Din", "Nureddin/Noureddine/Nuriddin"),
        ("Salah al-Din/Salah Eddine/Salah ad-Din", "Salahuddin/Salaheddine"),
        ("Sayf al-Din/Saif Eddine/Saif al-Din", "Saifuddin/Seifeddine"),
        ("Izz al-Din/Izz Eddine/Izz ad-Din", "Izzeddin/Izzeddine"),
    )
]
AR_NISBA = surnames(
    "Qaddafi/Gaddafi/Kadhafi/Gadhafi/Qadhafi|Haqqani|Zawahiri/Zawahri|Baghdadi|Masri|"
    "Tikriti|Hashimi/Hashemi|Qurashi/Qureshi|Shami|Halabi|Ansari|Tamimi|"
    "Otaibi/Utaybi/Oteibi|Dosari/Dawsari|Harbi|Qahtani/Kahtani|Zahrani|Ghamdi|"
    "Shahri/Shehri|Jubouri/Juburi/Jabouri|Dulaimi/Dulaymi/Dlaimi|Obeidi/Ubaydi/Obaidi|"
    "Rawi|Kubaisi/Kubaysi|Asadi|Amiri|Shammari|Mutairi/Mutayri|Anizi/Enezi/Anazi|"
    "Suwaidi/Suwaydi|Maliki|Khatib|Tunisi|Libi|Yamani|Sudani|Kuwaiti|Ruwaili|Hazmi|"
    "Nuaimi/Nuaymi|Zubaidi/Zubaydi|Hakim|Sadr|Badri|Awlaki/Aulaqi|Rubaish|Fadhli/Fadli|"
    "Muhajir|Sharif/Sherif|Jazairi|Filistini|Lubnani|Urduni|Hadrami|Maqdisi|Zarqawi|"
    "Shishani|Turkistani|Kurdi",
    nisba=True,
    origin="ar",
)
AR_PLAIN = surnames(
    "Haddad|Najjar|Khoury/Khouri|Saleh/Salih|Jaber/Jabir|Othman/Uthman/Osman|"
    "Farouk/Faruq/Farooq|Shehab/Shihab|Darwish/Darwich|Nasrallah|Fadlallah|"
    "Mughniyeh/Mughniyah|Hamdan|Barakat|Khalil|Bakri|Hariri|Assaf|Ghanem/Ghanim|"
    "Jumaa/Jumah/Juma|Yassin/Yasin|Makhlouf/Makhluf|Tlass/Tlas|Shalish|Mamlouk/Mamluk|"
    "Qasimi/Kasimi|Abboud/Abbud|Salameh/Salama|Mikati|Safadi|Shawkat",
    origin="ar",
)

# Russian / Ukrainian --------------------------------------------------------
_RU_GIVEN = [
    ("Aleksandr/Alexander/Aleksander/Alexandr/Aleksandar", "Александр",
     "Aleksandrovich/Alexandrovich", "Александрович"),
    ("Sergei/Sergey/Serguei/Sergej", "Сергей", "Sergeyevich/Sergeevich", "Сергеевич"),
    ("Dmitry/Dmitri/Dmitriy/Dmitrii", "Дмитрий", "Dmitriyevich/Dmitrievich", "Дмитриевич"),
    ("Yuri/Yury/Yuriy/Iouri/Jurij", "Юрий", "Yuryevich/Yurievich", "Юрьевич"),
    ("Andrei/Andrey/Andrej", "Андрей", "Andreyevich/Andreevich", "Андреевич"),
    ("Alexei/Aleksei/Alexey/Aleksey", "Алексей", "Alekseyevich/Alexeevich/Alekseevich",
     "Алексеевич"),
    ("Nikolai/Nikolay/Nicolai", "Николай", "Nikolayevich/Nikolaevich", "Николаевич"),
    ("Mikhail/Mikhael/Michail", "Михаил", "Mikhailovich/Mikhaylovich", "Михайлович"),
    ("Vladimir/Wladimir", "Владимир", "Vladimirovich", "Владимирович"),
    ("Ivan", "Иван", "Ivanovich", "Иванович"),
    ("Pyotr/Petr/Piotr", "Пётр", "Petrovich", "Петрович"),
    ("Fyodor/Fedor/Feodor", "Фёдор", "Fyodorovich/Fedorovich", "Фёдорович"),
    ("Yevgeny/Evgeny/Evgeniy/Yevgeniy", "Евгений", "Yevgenyevich/Evgenievich", "Евгеньевич"),
    ("Grigory/Grigori/Grigoriy", "Григорий", "Grigoryevich/Grigorievich", "Григорьевич"),
    ("Vasily/Vasiliy/Vassili/Wassili", "Василий", "Vasilyevich/Vasilievich", "Васильевич"),
    ("Konstantin/Constantin", "Константин", "Konstantinovich", "Константинович"),
    ("Oleg", "Олег", "Olegovich", "Олегович"),
    ("Igor", "Игорь", "Igorevich", "Игоревич"),
    ("Boris", "Борис", "Borisovich", "Борисович"),
    ("Viktor/Victor", "Виктор", "Viktorovich/Victorovich", "Викторович"),
    ("Anatoly/Anatoliy/Anatoli", "Анатолий", "Anatolyevich/Anatolievich", "Анатольевич"),
    ("Valery/Valeriy/Valeri", "Валерий", "Valeryevich/Valerievich", "Валерьевич"),
    ("Gennady/Gennadiy/Gennadi", "Геннадий", "Gennadyevich/Gennadievich", "Геннадьевич"),
    ("Arkady/Arkadiy/Arkadi", "Аркадий", "Arkadyevich/Arkadievich", "Аркадьевич"),
    ("Leonid", "Леонид", "Leonidovich", "Леонидович"),
    ("Roman", "Роман", "Romanovich", "Романович"),
    ("Maksim/Maxim", "Максим", "Maksimovich/Maximovich", "Максимович"),
    ("Artyom/Artem/Artiom", "Артём", "Artyomovich/Artemovich", "Артёмович"),
    ("Kirill/Kiril", "Кирилл", "Kirillovich", "Кириллович"),
    ("Stanislav", "Станислав", "Stanislavovich", "Станиславович"),
    ("Vyacheslav/Viacheslav", "Вячеслав", "Vyacheslavovich", "Вячеславович"),
    ("Yaroslav/Jaroslav", "Ярослав", "Yaroslavovich", "Ярославович"),
    ("Ruslan", "Руслан", "Ruslanovich", "Русланович"),
    ("Timur", "Тимур", "Timurovich", "Тимурович"),
    ("Denis", "Денис", "Denisovich", "Денисович"),
    ("Pavel", "Павел", "Pavlovich", "Павлович"),
    ("Semyon/Semen/Semion", "Семён", "Semyonovich/Semenovich", "Семёнович"),
    ("Yakov/Iakov", "Яков", "Yakovlevich", "Яковлевич"),
    ("Gleb", "Глеб", "Glebovich", "Глебович"),
    ("Bogdan", "Богдан", "Bogdanovich", "Богданович"),
]
RU_GIVEN_M = [
    group("given", spec, "ru", cyrillic=cyr, patronymic=tuple(p.split("/")), patronymic_cyrillic=pc)
    for spec, cyr, p, pc in _RU_GIVEN
]
RU_GIVEN_F = [
    group("given", spec, "ru", gender="f", cyrillic=cyr)
    for spec, cyr in (
        ("Olga", "Ольга"), ("Natalia/Natalya/Nataliya", "Наталья"),
        ("Yekaterina/Ekaterina", "Екатерина"), ("Tatiana/Tatyana", "Татьяна"),
        ("Svetlana", "Светлана"), ("Irina", "Ирина"), ("Yelena/Elena", "Елена"),
        ("Anna", "Анна"), ("Marina", "Марина"), ("Yulia/Yuliya/Julia", "Юлия"),
        ("Lyudmila/Ludmila", "Людмила"), ("Galina", "Галина"),
    )
]
_RU_SURNAMES = [
    ("Sidorov", "Сидоров"), ("Ivanov", "Иванов"), ("Petrov", "Петров"),
    ("Smirnov", "Смирнов"), ("Kuznetsov/Kouznetsov", "Кузнецов"), ("Popov", "Попов"),
    ("Vasilyev/Vasiliev/Vassiliev", "Васильев"), ("Sokolov", "Соколов"),
    ("Mikhailov/Mikhaylov", "Михайлов"), ("Novikov", "Новиков"),
    ("Fyodorov/Fedorov", "Фёдоров"), ("Morozov", "Морозов"), ("Volkov", "Волков"),
    ("Alekseyev/Alekseev/Alexeev", "Алексеев"), ("Lebedev", "Лебедев"),
    ("Semyonov/Semenov", "Семёнов"), ("Yegorov/Egorov", "Егоров"), ("Pavlov", "Павлов"),
    ("Kozlov", "Козлов"), ("Stepanov", "Степанов"), ("Nikolayev/Nikolaev", "Николаев"),
    ("Orlov", "Орлов"), ("Andreyev/Andreev", "Андреев"), ("Makarov", "Макаров"),
    ("Zakharov/Zaharov", "Захаров"), ("Zaytsev/Zaitsev", "Зайцев"),
    ("Solovyov/Soloviev/Solovyev", "Соловьёв"), ("Borisov", "Борисов"),
    ("Yakovlev/Iakovlev", "Яковлев"), ("Grigoryev/Grigoriev", "Григорьев"),
    ("Romanov", "Романов"), ("Vorobyov/Vorobiev", "Воробьёв"),
    ("Sergeyev/Sergeev", "Сергеев"), ("Frolov", "Фролов"), ("Belov", "Белов"),
    ("Gusev", "Гусев"), ("Tikhonov", "Тихонов"), ("Zhukov/Joukov", "Жуков"),
    ("Chernov/Tchernov", "Чернов"), ("Sorokin", "Сорокин"), ("Medvedev", "Медведев"),
    ("Yershov/Ershov", "Ершов"), ("Nikitin", "Никитин"), ("Kalinin", "Калинин"),
    ("Karpov", "Карпов"), ("Kiselyov/Kiselev", "Киселёв"), ("Tarasov", "Тарасов"),
    ("Belyayev/Belyaev", "Беляев"), ("Komarov", "Комаров"), ("Gerasimov", "Герасимов"),
    ("Bogdanov", "Богданов"), ("Kovalenko", "Коваленко"), ("Shevchenko", "Шевченко"),
    ("Bondarenko", "Бондаренко"), ("Tkachenko", "Ткаченко"), ("Kravchenko", "Кравченко"),
    ("Sidorenko", "Сидоренко"), ("Petrenko", "Петренко"), ("Ivanenko", "Иваненко"),
    ("Kovalchuk", "Ковальчук"), ("Melnyk/Melnik", "Мельник"),
    ("Prigozhin/Prigojine", "Пригожин"), ("Deripaska", "Дерипаска"),
    ("Rotenberg", "Ротенберг"), ("Timchenko", "Тимченко"), ("Yakunin", "Якунин"),
    ("Sechin", "Сечин"), ("Chemezov", "Чемезов"), ("Kadyrov", "Кадыров"),
    ("Shoigu", "Шойгу"), ("Gerasimenko", "Герасименко"), ("Lavrentyev/Lavrentiev", "Лаврентьев"),
]
RU_SURNAMES = [group("surname", spec, "ru", cyrillic=cyr) for spec, cyr in _RU_SURNAMES]

# Persian ------------------------------------------------------------------------
FA_GIVEN_M = givens(
    "Mohammad|Ali|Hossein|Reza|Mahmoud|Akbar|Javad/Jawad/Javed|Mehdi/Mahdi|Hassan|Abbas|"
    "Qasem/Ghasem/Kasem/Qassem|Mojtaba/Mujtaba|Saeed|Hamid|Majid|Behrouz/Behruz|Farhad|"
    "Dariush/Daryoush/Darioush|Parviz/Parvez|Fereydoun/Fereydun/Freydoon|Mohsen/Muhsin|"
    "Amir|Masoud/Massoud/Masud|Morteza/Murtaza|Kazem/Kazim/Kadhim|Gholam/Golam/Ghulam|"
    "Davood/Davoud/Dawood/Dawud|Nader/Nadir|Shahram|Kamran|Babak|Ramin|Siamak|Kourosh/Kurosh",
    origin="fa",
)
FA_GIVEN_F = givens(
    "Zahra/Zahraa|Maryam|Fatemeh|Shirin|Leila|Mahnaz|Parisa|Nasrin/Nasreen|Azadeh|Roya",
    "f",
    origin="fa",
)
FA_SURNAMES = surnames(
    "Soleimani/Suleimani/Solaimani/Soleymani|Rouhani/Rohani|Khamenei/Khamenehi|Zarif|"
    "Larijani|Jafari/Jafary/Ja'fari|Rezaei/Rezaee/Rezai/Rezaie|"
    "Ahmadinejad/Ahmadi-Nejad/Ahmadinezhad|Hosseini/Husseini/Hoseini|"
    "Mousavi/Musavi/Moussavi|Tehrani|Shirazi|Esfahani/Isfahani|Ghorbani/Qorbani|Karimi|"
    "Rahimi|Moradi|Naqdi/Naghdi|Salami|Bagheri/Baqeri|Vahidi|Fakhrizadeh/Fakhri-Zadeh|"
    "Abbasi|Mohseni|Kazemi|Sadeghi/Sadeqi|Heidari/Haidari/Heydari|Asgari/Askari|Nasiri|"
    "Jalili|Rostami|Safavi|Zolfaghari/Zolfaqari|Tavakoli/Tavakkoli|Mahdavi|Shamkhani|"
    "Velayati|Vaezi|Ghasemi/Qasemi|Amini|Rahmani|Mirzaei/Mirzaee|Shariati|Taheri|Najafi",
    origin="fa",
)

# Chinese / Korean / Vietnamese ------------------------------------------------------
ZH_SURNAMES = surnames(
    "Zhang/Cheung/Chang|Wang/Wong|Li/Lee|Liu/Lau|Chen/Chan|Yang/Yeung|Huang/Hwang|"
    "Zhao/Chao/Chiu|Wu/Ng|Zhou/Chou/Chow|Xu/Hsu/Tsui|Sun/Suen|Ma|Zhu/Chu|Hu|Guo/Kuo/Kwok|"
    "He/Ho|Gao/Kao/Ko|Lin/Lam|Luo/Lo/Law|Zheng/Cheng|Liang/Leung|Xie/Hsieh/Tse|Song/Sung|"
    "Tang/Tong|Han/Hon|Feng/Fung|Deng/Teng|Cao/Tsao|Peng|Zeng/Tseng/Tsang|Xiao/Hsiao/Siu|"
    "Tian/Tien|Dong/Tung|Pan/Poon|Yuan/Yuen|Cai/Tsai|Jiang/Chiang|Du/Tu|Ye/Yip/Yeh",
    origin="zh",
)
ZH_SYLLABLES = words(
    "wei min jun hua lei jie yan tao bo qiang ping gang hui jing ling mei xiao ming hong "
    "jian guo zhi yong feng lin hai bin chao dong fang hao kai long peng rui shan tian xin "
    "yu zhen wen qing ying jia"
)
KO_SURNAMES = surnames(
    "Kim/Gim|Lee/Yi/Rhee/Ri|Park/Pak/Bak|Choi/Choe|Jung/Jeong/Chung/Chong|Kang/Gang|Cho/Jo|"
    "Yoon/Yun|Jang/Chang|Lim/Im/Rim|Han|Oh|Seo/Suh|Shin/Sin|Kwon/Gwon|Hwang|Ahn/An|Song|"
    "Ryu/Yoo|Hong|Jeon/Chon|Moon/Mun|Yang|Son/Sohn|Bae/Pae|Baek/Paek",
    origin="ko",
)
KO_SYLLABLES = words(
    "jong un il chol song yong ho myong hak su hyon gwang nam sun hui jin hyun min jun seo "
    "ji woo young soo kyung hee eun jae sang dong chul seung tae hwa mi ok"
)
VI_SURNAMES = surnames(
    "Nguyễn/Nguyen|Trần/Tran|Lê/Le|Phạm/Pham|Hoàng/Hoang|Phan|Vũ/Vu|Đặng/Dang|Bùi/Bui|"
    "Đỗ/Do|Hồ/Ho|Ngô/Ngo|Dương/Duong|Lý/Ly",
    origin="vi",
)
VI_MIDDLE = givens("Văn/Van|Đức/Duc|Minh|Quang|Hữu/Huu|Thanh|Ngọc/Ngoc|Thị/Thi", origin="vi")
VI_GIVEN = givens(
    "An|Bình/Binh|Cường/Cuong|Dũng/Dung|Hải/Hai|Hùng/Hung|Khánh/Khanh|Long|Nam|Phong|"
    "Quân/Quan|Sơn/Son|Thắng/Thang|Tuấn/Tuan|Việt/Viet|Hương/Huong|Lan|Linh|Mai|Thảo/Thao|"
    "Trang|Tâm/Tam|Kiên/Kien|Lộc/Loc",
    origin="vi",
)

# Spanish --------------------------------------------------------------------------
ES_GIVEN_M = givens(
    "José/Jose|Juan|Luis|Carlos|Jorge|Miguel|Rafael|Diego|Pedro|Alejandro|Fernando|"
    "Francisco|Javier|Héctor/Hector|Joaquín/Joaquin|Ramón/Ramon|Jesús/Jesus|Ángel/Angel|"
    "Óscar/Oscar|Raúl/Raul|Andrés/Andres|Ricardo|Eduardo|Ernesto|Alfredo|Gustavo|Arturo|"
    "Manuel|Nicolás/Nicolas|Tomás/Tomas|Julio|César/Cesar|Rubén/Ruben|Gonzalo|Ignacio",
    origin="es",
)
ES_GIVEN_F = givens(
    "María/Maria|Guadalupe|Ana|Lucía/Lucia|Sofía/Sofia|Carmen|Rosa|Isabel|Patricia|Marta|"
    "Teresa|Gabriela|Adriana|Verónica/Veronica|Claudia",
    "f",
    origin="es",
)
ES_MIDDLE = givens("Archivaldo|Antonio|Alberto|Enrique|Ismael|Armando|Rodrigo|Octavio", origin="es")
ES_SURNAMES = surnames(
    "González/Gonzalez|Rodríguez/Rodriguez|Hernández/Hernandez|García/Garcia|"
    "Martínez/Martinez|López/Lopez|Pérez/Perez|Sánchez/Sanchez|Ramírez/Ramirez|Torres|"
    "Flores|Rivera|Gómez/Gomez|Díaz/Diaz|Guzmán/Guzman|Loera|Zambada|Quintero|Carrillo|"
    "Fuentes|Arellano|Félix/Felix|Cabello|Maduro|Moros|Saab|Morán/Moran|Ochoa|"
    "Vázquez/Vazquez|Castro|Ortiz|Mendoza|Ruiz|Jiménez/Jimenez|Moreno|Muñoz/Munoz|"
    "Álvarez/Alvarez|Romero|Navarro|Medina|Herrera|Aguilar|Vargas|Reyes|Gutiérrez/Gutierrez|"
    "Chávez/Chavez|Ramos|Morales|Domínguez/Dominguez|Salazar|Cárdenas/Cardenas|Valencia|"
    "Escobar|Orozco|Beltrán/Beltran|Caro|Palma|Treviño/Trevino|Mejía/Mejia",
    origin="es",
)
ES_PARTICLE_SURNAMES = [
    (group("surname", spec, "es"), particle)
    for spec, particle in (
        ("Cruz", "de la"), ("Valle", "del"), ("Rosa", "de la"), ("Torre", "de la"),
        ("Castillo", "del"), ("Hoya", "de la"), ("León/Leon", "de"), ("Paz", "de la"),
    )
]

# Turkish / Balkan / German-Dutch / South Asian / Western ----------------------------
TR_GIVEN = givens(
    "Mehmet/Mehmed|Emre|Burak|Murat/Murad|Kemal/Kamal|Yusuf|Hakan|Serkan|Volkan|Cem|Ahmet|"
    "Hüseyin|Ömer|Recep|Ercan|Selçuk/Selcuk|Oğuz/Oguz|Tuncay",
    origin="tr",
)
TR_SURNAMES = surnames(
    "Yılmaz/Yilmaz|Kaya|Demir|Şahin/Sahin|Çelik/Celik|Yıldız/Yildiz|Yıldırım/Yildirim|"
    "Öztürk/Ozturk|Aydın/Aydin|Özdemir/Ozdemir|Arslan|Doğan/Dogan|Kılıç/Kilic|Aslan|"
    "Çetin/Cetin|Koç/Koc|Kurt|Özkan/Ozkan|Şimşek/Simsek|Erdoğan/Erdogan|Güler/Guler|Tekin",
    origin="tr",
)
BK_GIVEN = givens(
    "Dragan|Goran|Zoran|Milorad|Radovan|Ratko|Slobodan|Željko/Zeljko|Miroslav|Vojislav|"
    "Nebojša/Nebojsa|Dušan/Dusan|Aleksandar|Milan|Branko|Stevan|Predrag|Vladan",
    origin="bk",
)
BK_SURNAMES = surnames(
    "Đorđević/Djordjevic/Dordevic|Karadžić/Karadzic|Mladić/Mladic|Milošević/Milosevic|"
    "Šešelj/Seselj|Ražnatović/Raznatovic|Jovanović/Jovanovic|Nikolić/Nikolic|"
    "Marković/Markovic|Stanković/Stankovic|Babić/Babic|Kovačević/Kovacevic|Lukić/Lukic|"
    "Simić/Simic|Tadić/Tadic|Vučić/Vucic|Dodik|Radić/Radic|Ilić/Ilic|Živković/Zivkovic",
    origin="bk",
)
DE_GIVEN = givens(
    "Hans|Klaus|Jürgen/Juergen|Wolfgang|Dieter|Johannes|Pieter/Peter|Willem|Hendrik/Henrik|"
    "Jan|Karl/Carl|Friedrich|Stefan/Stephan|Matthias|Andreas|Gerhard|Bernd|Ulrich",
    origin="de",
)
DE_PARTICLE_SURNAMES = [
    (group("surname", spec, "de"), particle)
    for spec, particle in (
        ("Berg", "van der"), ("Bosch", "van den"), ("Vries", "de"), ("Dijk/Dyk", "van"),
        ("Braun", "von"), ("Richthofen", "von"), ("Meer", "van der"), ("Jong", "de"),
        ("Leeuwen", "van"), ("Neumann", "von"), ("Houten", "van"), ("Groot", "de"),
        ("Stauffenberg", "von"), ("Heuvel", "van den"), ("Linden", "van der"),
    )
]
DE_SURNAMES = surnames(
    "Müller/Mueller/Muller|Schmidt|Schneider|Fischer|Weber|Meyer/Meier/Maier|Wagner|Becker|"
    "Schulz/Schultz|Hoffmann/Hofmann|Koch|Richter|Klein|Wolf|Schröder/Schroeder|Neumeier|"
    "Zimmermann|Krüger/Krueger|Hartmann|Lange",
    origin="de",
)
PK_GIVEN = givens(
    "Gulbuddin|Jalaluddin|Sirajuddin|Hafiz/Hafez|Zahid|Tahir|Asif|Imran|Shahid|Naveed/Navid|"
    "Rehman/Rahman|Anas|Zabihullah|Amanullah|Hekmat|Sadiq/Sadeq|Sirajul|Nasrullah",
    origin="pk",
)
PK_SURNAMES = surnames(
    "Khan|Hekmatyar|Akhtar/Akhter|Qureshi|Siddiqui/Siddiqi|Chaudhry/Chaudhary/Choudhury|"
    "Malik|Butt|Baig/Beg|Mirza|Yousafzai/Yusufzai|Durrani|Popalzai|Achakzai|Noorzai/Nurzai|"
    "Zadran|Kakar|Afridi|Wazir|Mehsud/Mahsud|Mujahid|Omari",
    origin="pk",
)
WEST_GIVEN = givens(
    "John|Michael|David|James|Robert|William|Richard|Thomas|Mary|Jennifer|Linda|Susan|Emily|"
    "Sarah|Rahul|Amit|Priya|Anjali|Vikram|Sanjay|Arjun|Deepak|Sunita|Ravi|Paul|Mark|Laura|"
    "Karen|George|Edward|Pierre|Jean|Luca|Marco|Giulia|Chiara|Lars|Erik|Olivia|Hannah",
    origin="west",
)
WEST_SURNAMES = surnames(
    "Smith|Johnson|Williams|Brown|Jones|Miller|Davis|Wilson|Anderson|Taylor|Thomas|Moore|"
    "Martin|Jackson|Thompson|White|Harris|Clark|Lewis|Sharma|Patel|Singh|Kumar|Gupta|Reddy|"
    "Iyer|Nair|Mehta|Joshi|Rao|Dubois|Rossi|Bianchi|Larsen|Nielsen|Walker|Young|Wright|Scott",
    origin="west",
)

HONORIFICS = ["Dr.", "Sheikh", "General", "Mr.", "Prof.", "Colonel", "Haji"]

COUNTRIES = {
    "ar": [("SY", "Syria", "Damascus"), ("IQ", "Iraq", "Baghdad"), ("LB", "Lebanon", "Beirut"),
           ("YE", "Yemen", "Sanaa"), ("LY", "Libya", "Tripoli"), ("SA", "Saudi Arabia", "Riyadh"),
           ("AE", "United Arab Emirates", "Dubai"), ("EG", "Egypt", "Cairo"),
           ("JO", "Jordan", "Amman"), ("KW", "Kuwait", "Kuwait City")],
    "ru": [("RU", "Russia", "Moscow"), ("RU", "Russia", "Saint Petersburg"),
           ("UA", "Ukraine", "Donetsk"), ("BY", "Belarus", "Minsk"), ("KZ", "Kazakhstan", "Almaty"),
           ("CY", "Cyprus", "Limassol")],
    "fa": [("IR", "Iran", "Tehran"), ("IR", "Iran", "Isfahan"), ("IR", "Iran", "Tabriz"),
           ("AE", "United Arab Emirates", "Dubai"), ("IQ", "Iraq", "Najaf")],
    "zh": [("CN", "China", "Shenzhen"), ("CN", "China", "Beijing"), ("HK", "Hong Kong", "Kowloon"),
           ("CN", "China", "Harbin"), ("SG", "Singapore", "Singapore"), ("MO", "Macau", "Macau")],
    "ko": [("KP", "Korea, North", "Pyongyang"), ("KP", "Korea, North", "Hamhung"),
           ("CN", "China", "Dandong"), ("RU", "Russia", "Vladivostok")],
    "vi": [("VN", "Vietnam", "Hanoi"), ("VN", "Vietnam", "Ho Chi Minh City"),
           ("KH", "Cambodia", "Phnom Penh")],
    "es": [("MX", "Mexico", "Culiacan"), ("MX", "Mexico", "Guadalajara"),
           ("CO", "Colombia", "Medellin"), ("VE", "Venezuela", "Caracas"),
           ("CU", "Cuba", "Havana"), ("PA", "Panama", "Panama City"),
           ("NI", "Nicaragua", "Managua"), ("ES", "Spain", "Madrid")],
    "tr": [("TR", "Turkey", "Istanbul"), ("TR", "Turkey", "Ankara"), ("CY", "Cyprus", "Nicosia")],
    "bk": [("RS", "Serbia", "Belgrade"), ("BA", "Bosnia and Herzegovina", "Banja Luka"),
           ("ME", "Montenegro", "Podgorica"), ("XK", "Kosovo", "Pristina")],
    "de": [("DE", "Germany", "Hamburg"), ("NL", "Netherlands", "Rotterdam"),
           ("AT", "Austria", "Vienna"), ("CH", "Switzerland", "Zurich"),
           ("BE", "Belgium", "Antwerp")],
    "pk": [("PK", "Pakistan", "Peshawar"), ("AF", "Afghanistan", "Kabul"),
           ("AF", "Afghanistan", "Kandahar"), ("PK", "Pakistan", "Karachi")],
    "west": [("US", "United States", "Miami"), ("GB", "United Kingdom", "London"),
             ("IN", "India", "Mumbai"), ("CA", "Canada", "Toronto"), ("IT", "Italy", "Milan"),
             ("FR", "France", "Paris"), ("DK", "Denmark", "Copenhagen")],
}

SOURCES_PERSON = [
    ("Specially Designated Nationals (SDN) - Treasury Department", 60),
    ("Denied Persons List (DPL) - Bureau of Industry and Security", 10),
    ("Nonproliferation Sanctions (ISN) - State Department", 8),
    ("Foreign Sanctions Evaders (FSE) - Treasury Department", 6),
]
SOURCES_ENTITY = [
    ("Entity List (EL) - Bureau of Industry and Security", 40),
    ("Specially Designated Nationals (SDN) - Treasury Department", 30),
    ("Military End User (MEU) List - Bureau of Industry and Security", 8),
    ("Unverified List (UVL) - Bureau of Industry and Security", 8),
    ("Sectoral Sanctions Identifications List (SSI) - Treasury Department", 8),
]
PROGRAMS = {
    "ar": ["SDGT", "SYRIA", "IRAQ2", "LIBYA3", "YEMEN", "FTO"],
    "ru": ["RUSSIA-EO14024", "UKRAINE-EO13660", "UKRAINE-EO13661", "CYBER2", "CAATSA - RUSSIA"],
    "fa": ["IRAN", "IFSR", "NPWMD", "IRGC", "SDGT"],
    "zh": ["NPWMD", "SDNTK", "CMIC-EO13959", "IFSR"],
    "ko": ["DPRK3", "DPRK4", "NPWMD"],
    "vi": ["TCO", "SDNTK"],
    "es": ["SDNTK", "VENEZUELA-EO13850", "CUBA", "TCO", "ILLICIT-DRUGS-EO14059"],
    "tr": ["SDGT", "IRAN", "RUSSIA-EO14024"],
    "bk": ["BALKANS-EO14033", "BALKANS"],
    "de": ["RUSSIA-EO14024", "IRAN", "NPWMD"],
    "pk": ["SDGT", "AFGHANISTAN-EO14046", "FTO"],
    "west": ["DPL", "SDNTK", "CYBER2", "TCO"],
}

# Entities ------------------------------------------------------------------------
GENERIC_WORDS = words(
    "Trading|Shipping|Industrial|Electronics|Technology|Engineering|Logistics|Aviation|"
    "Petrochemical|Machinery|Energy|Investment|Marine|Chemical|Precision|Navigation|"
    "Metallurgical|Holding|Systems|Instruments|Components|Optics|Semiconductor|"
    "Microelectronics|Defense|Manufacturing|Commercial|Development|Petroleum|Mining|"
    "Construction|Bank|Exchange|Pharmaceutical|Import Export|Freight|Trust|Supply",
    "|",
)
GEO_WORDS = words(
    "Eastern|Golden|Global|Sino|Trans|Pacific|Baltic|Caspian|Gulf|Silk Road|United|"
    "International|Northern|Asia|Euro|Orient|Western|Southern|Royal|Grand",
    "|",
)
ENTITY_SYLLABLES = words(
    "ka ro sa no vin tek zhen tong hua pars ar ya mir ur dal ne ga ter ba li mo ra sep han "
    "zar kov bel tan sin ko da vo lu shi ma na pe ri ze fa gol dor mak ren tor vis kam "
    "sor bar nik tal gen ost vek lan hor"
)
INSTITUTE_CITIES = words(
    "Novosibirsk Tomsk Sarov Snezhinsk Dubna Obninsk Harbin Xian Chengdu Mianyang Isfahan "
    "Tabriz Pyongyang Hamhung Kazan Samara Perm Tula Izhevsk Zelenograd Nanjing Wuhan "
    "Changsha Shiraz Mashhad Kharkiv Minsk Yekaterinburg Omsk Voronezh Saratov Penza "
    "Chelyabinsk Ufa Kaluga Taganrog Rybinsk Dalian Shenyang Qazvin Karaj Semnan Arak Yazd"
)
INSTITUTE_FIELDS = [
    "Applied Physics", "Radio Engineering", "Nuclear Research", "Precision Mechanics",
    "Optics and Electronics", "Materials Science", "Aviation Technology", "Rocket Propulsion",
    "Chemical Technology", "Automation and Control", "Microwave Electronics", "Laser Physics",
]
SUFFIXES = {
    "RU": [("OOO", "pre"), ("AO", "pre"), ("JSC", "post"), ("PJSC", "post"), ("LLC", "post"),
           ("Limited Liability Company", "post"), ("OAO", "pre"), ("ZAO", "pre")],
    "CN": [("Co., Ltd.", "post"), ("Company Limited", "post"), ("Limited", "post"),
           ("Ltd", "post"), ("Co. Ltd", "post")],
    "HK": [("Limited", "post"), ("Co., Limited", "post"), ("Ltd.", "post")],
    "IR": [("Co.", "post"), ("Company", "post"), ("PJSC", "post"), ("Ltd", "post")],
    "AE": [("FZE", "post"), ("FZCO", "post"), ("LLC", "post"), ("L.L.C.", "post"),
           ("FZ-LLC", "post")],
    "DE": [("GmbH", "post"), ("AG", "post"), ("GmbH & Co. KG", "post")],
    "CH": [("AG", "post"), ("S.A.", "post"), ("SA", "post"), ("Sàrl", "post")],
    "TR": [("A.Ş.", "post"), ("Ltd. Şti.", "post"), ("AS", "post")],
    "SY": [("S.A.L.", "post"), ("Co.", "post"), ("LLC", "post")],
    "KP": [("Corporation", "post"), ("Corp.", "post"), ("Co.", "post")],
    "MX": [("S.A. de C.V.", "post"), ("S.A.", "post"), ("S. de R.L.", "post")],
    "VE": [("C.A.", "post"), ("S.A.", "post")],
}
ENTITY_COUNTRIES = [
    ("RU", "Russia", "Moscow"), ("CN", "China", "Shenzhen"), ("HK", "Hong Kong", "Kowloon"),
    ("IR", "Iran", "Tehran"), ("AE", "United Arab Emirates", "Sharjah"),
    ("DE", "Germany", "Frankfurt"), ("CH", "Switzerland", "Geneva"), ("TR", "Turkey", "Istanbul"),
    ("SY", "Syria", "Damascus"), ("KP", "Korea, North", "Pyongyang"), ("MX", "Mexico", "Tijuana"),
    ("VE", "Venezuela", "Caracas"),
]

KEYBOARD = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}


# --------------------------------------------------------------------------- people
@dataclass
class Person:
    entry_id: str
    origin: str
    gender: str
    given: Group
    given_sp: str
    surname: Group
    surname_sp: str
    middle: Group | None = None
    middle_sp: str = ""
    surname2: Group | None = None
    surname2_sp: str = ""
    particle: str = ""
    middle_particle: str = ""
    syllables: tuple[str, ...] = ()
    given_form: str = "space"
    style: str = "given_first"
    upper_surname: bool = False
    country: tuple[str, str, str] = ("", "", "")

    @property
    def identity(self) -> tuple[object, object]:
        return (self.given_key, self.surname.gid)

    @property
    def given_key(self) -> object:
        return self.syllables if self.syllables else self.given.gid


@dataclass
class Spec:
    """How to render one name of a person; variants are edits of a Spec."""

    given: str
    surname: str
    middle: str = ""
    surname2: str = ""
    particle: str = ""
    middle_particle: str = ""
    style: str = "given_first"
    upper_surname: bool = False
    case: str = "as_is"
    honorific: str = ""
    extra_punct: bool = False
    middle_first: bool = False  # Vietnamese: Nguyen Van An, middle before given


def _female_surname(sp: str, origin: str) -> str:
    if origin == "ru" and sp.endswith(("ov", "ev", "in", "yn", "ev")):
        return sp + "a"
    return sp


def _female_cyr(sp: str) -> str:
    if sp.endswith(("ов", "ев", "ин", "ёв", "ын")):
        return sp + "а"
    return sp


def _female_patronymic(sp: str) -> str:
    if sp.endswith("ich"):
        return sp[:-3] + "na" if sp.endswith("ovich") or sp.endswith("evich") else sp + "na"
    return sp


def _female_patronymic_cyr(sp: str) -> str:
    if sp.endswith("вич"):
        return sp[:-3] + "вна"
    return sp + "на"


def render(spec: Spec) -> str:
    parts = (spec.middle, spec.given) if spec.middle_first else (
        spec.given, spec.middle_particle, spec.middle)
    given = " ".join(p for p in parts if p)
    surname = spec.surname
    if spec.particle:
        surname = f"{spec.particle}-{surname}" if spec.particle in ("al", "el", "Al", "El") \
            else f"{spec.particle} {surname}"
    if spec.surname2:
        surname = f"{surname} {spec.surname2}"
    if spec.upper_surname:
        surname = surname.upper()
    if spec.style == "comma":
        text = f"{surname}, {given}"
    elif spec.style == "surname_first":
        text = f"{surname} {given}"
    else:
        text = f"{given} {surname}"
    if spec.honorific:
        text = f"{spec.honorific} {text}"
    if spec.extra_punct:
        text = text.replace(" ", "  ", 1) + "."
    if spec.case == "upper":
        text = text.upper()
    elif spec.case == "lower":
        text = text.lower()
    return text


def _given_form(syllables: Sequence[str], form: str) -> str:
    if len(syllables) == 1:
        return syllables[0].capitalize()
    if form == "joined":
        return "".join(syllables).capitalize()
    if form == "hyphen":
        return "-".join(s if i else s.capitalize() for i, s in enumerate(syllables))
    return " ".join(s.capitalize() for s in syllables)


def base_spec(p: Person) -> Spec:
    given = _given_form(p.syllables, p.given_form) if p.syllables else p.given_sp
    return Spec(
        given=given, surname=p.surname_sp, middle=p.middle_sp, surname2=p.surname2_sp,
        particle=p.particle, middle_particle=p.middle_particle, style=p.style,
        upper_surname=p.upper_surname, middle_first=p.origin == "vi",
    )


class Generator:
    def __init__(self, seed: int, *, synthetic_surnames: int = 0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.synthetic = synthetic_surnames
        self.people: list[Person] = []
        self.entities: list[Entity] = []
        self.identities: set[tuple[object, object]] = set()
        self.reserved: list[tuple[str, str]] = [("Maria", "Gonzalez")]
        self.next_id = 1
        self._extra: dict[str, list[Group]] = {}
        # Index of every name-part spelling on the list, for the closeness check.
        self._keys: list[str] = []
        self._owners: dict[str, list[tuple[int, str]]] = {}

    # ---------------------------------------------------------------- helpers
    def new_id(self) -> str:
        value = f"csl-{self.next_id:06d}"
        self.next_id += 1
        return value

    def pick(self, items: Sequence[Group]) -> str:
        return self.rng.choice(items[0].spellings)

    def origin_pools(self, origin: str, gender: str) -> tuple[list[Group], list[Group]]:
        table: dict[str, tuple[list[Group], list[Group], list[Group]]] = {
            "ar": (AR_GIVEN_M + AR_COMPOUND, AR_GIVEN_F, AR_NISBA + AR_PLAIN),
            "ru": (RU_GIVEN_M, RU_GIVEN_F, RU_SURNAMES),
            "fa": (FA_GIVEN_M, FA_GIVEN_F, FA_SURNAMES),
            "vi": (VI_GIVEN, VI_GIVEN, VI_SURNAMES),
            "es": (ES_GIVEN_M, ES_GIVEN_F, ES_SURNAMES),
            "tr": (TR_GIVEN, TR_GIVEN, TR_SURNAMES),
            "bk": (BK_GIVEN, BK_GIVEN, BK_SURNAMES),
            "de": (DE_GIVEN, DE_GIVEN, DE_SURNAMES),
            "pk": (PK_GIVEN + AR_GIVEN_M[:12], AR_GIVEN_F, PK_SURNAMES),
            "west": (WEST_GIVEN, WEST_GIVEN, WEST_SURNAMES),
            "zh": ([], [], ZH_SURNAMES),
            "ko": ([], [], KO_SURNAMES),
        }
        male, female, sur = table[origin]
        sur = sur + self._extra.get(origin, [])
        return (female if gender == "f" else male), sur

    def synth_surnames(self) -> None:
        """Extra made-up surnames so a large benchmark list has a realistic vocabulary."""
        parts = {
            "ru": (["Bel", "Chern", "Gor", "Kras", "Lag", "Mol", "Pol", "Rub", "Shap", "Tol",
                    "Vor", "Zel", "Dub", "Kol", "Lys", "Pet", "Sav", "Trof", "Ust", "Yar"],
                   ["ov", "ev", "in", "enko", "sky", "chuk", "kin", "ykin", "anov", "ishev"]),
            "ar": (["Ham", "Jaz", "Khal", "Mah", "Naj", "Qas", "Rah", "Sal", "Tah", "Zub",
                    "Bad", "Far", "Ghaz", "Harr", "Kub", "Mazr", "Shar", "Wahb", "Yaq", "Dur"],
                   ["ani", "awi", "iri", "ouri", "idi", "ashi", "ubi", "ali", "umi", "afi"]),
            "fa": (["Beh", "Dar", "Far", "Gol", "Jah", "Khos", "Mal", "Nour", "Par", "Sha",
                    "Tav", "Vaz", "Yeg", "Zan", "Ash", "Bar", "Dehg", "Hed", "Kam", "Rast"],
                   ["ani", "avi", "zadeh", "pour", "i", "nejad", "abadi", "ian", "dust", "far"]),
            "es": (["Alv", "Barr", "Cast", "Dur", "Esp", "Gall", "Ib", "Lar", "Mont", "Nav",
                    "Ord", "Quir", "Sol", "Tor", "Urr", "Vill", "Zap", "Benav", "Cerv", "Rend"],
                   ["ez", "ado", "ero", "illo", "ano", "ales", "uela", "ina", "oza", "ino"]),
            "west": (["Ash", "Black", "Brook", "Clay", "Fair", "Green", "Hart", "Kings", "Long",
                      "Mar", "North", "Red", "Stan", "Thorn", "War", "West", "Whit", "Wood",
                      "Rad", "Bell"],
                     ["ford", "wood", "ley", "ton", "field", "well", "more", "by", "ham", "son"]),
        }
        for origin, (heads, tails) in parts.items():
            made: list[Group] = []
            combos = [h + t for h in heads for t in tails]
            self.rng.shuffle(combos)
            for name in combos[: self.synthetic]:
                made.append(group("surname", name, origin, nisba=origin == "ar"))
            self._extra[origin] = made

    # ---------------------------------------------------------------- closeness
    @staticmethod
    def _close(a: Iterable[str], b: Iterable[str]) -> bool:
        ka = {_key(x) for x in a}
        kb = {_key(x) for x in b}
        return any(Levenshtein.distance(x, y, score_cutoff=1) <= 1 for x in ka for y in kb)

    def register(self, p: Person) -> None:
        """Add a list person. Middle names count as given names and second surnames
        as surnames for closeness, so that a negative is never just another way of
        shortening a listed name ("Jose Torres" for "Jose Gonzalez Torres")."""
        index = len(self.people)
        self.people.append(p)
        given = ["".join(p.syllables)] if p.syllables else list(p.given.spellings) + list(
            p.given.compound_joined)
        if p.middle is not None:
            given += list(p.middle.patronymic) if p.origin == "ru" else list(
                p.middle.spellings)
        surname = list(p.surname.spellings)
        if p.surname2 is not None:
            surname += list(p.surname2.spellings)
        for role, spellings in (("g", given), ("s", surname)):
            for key in {_key(x) for x in spellings}:
                if key not in self._owners:
                    self._owners[key] = []
                    self._keys.append(key)
                self._owners[key].append((index, role))

    def _near(self, spellings: Iterable[str]) -> set[tuple[int, str]]:
        found: set[tuple[int, str]] = set()
        for key in {_key(x) for x in spellings}:
            for match, _, _ in process.extract(
                key, self._keys, scorer=Levenshtein.distance, score_cutoff=1, limit=None
            ):
                found.update(self._owners[match])
        return found

    def collides(self, given: list[str], surname: list[str]) -> bool:
        """Whether (given, surname) is close to any list identity, in either order."""
        near_g = self._near(given)
        near_s = self._near(surname)
        same_order = {i for i, r in near_g if r == "g"} & {i for i, r in near_s if r == "s"}
        swapped = {i for i, r in near_g if r == "s"} & {i for i, r in near_s if r == "g"}
        if same_order or swapped:
            return True
        return any(self._close(given, [g]) and self._close(surname, [s])
                   for g, s in self.reserved)

    # ---------------------------------------------------------------- people
    def make_person(self, origin: str, *, unique: bool = True) -> Person | None:
        rng = self.rng
        gender = "f" if rng.random() < 0.15 else "m"
        if origin in ("vi", "tr", "bk", "de", "west"):
            gender = "m" if origin != "west" else gender
        given_pool, surname_pool = self.origin_pools(origin, gender)
        syllables: tuple[str, ...] = ()
        if origin in ("zh", "ko"):
            pool = ZH_SYLLABLES if origin == "zh" else KO_SYLLABLES
            count = 2 if origin == "ko" or rng.random() < 0.6 else 1
            syllables = tuple(rng.sample(pool, count))
            given = group("given", "-".join(syllables), origin)
        else:
            given = rng.choice(given_pool)
        particle = ""
        if origin == "es" and rng.random() < 0.1:
            surname, particle = rng.choice(ES_PARTICLE_SURNAMES)
        elif origin == "de" and rng.random() < 0.5:
            surname, particle = rng.choice(DE_PARTICLE_SURNAMES)
        else:
            surname = rng.choice(surname_pool)
        if surname.nisba:
            particle = rng.choice(["al", "al", "Al", "el", ""])
        key = (syllables if syllables else given.gid, surname.gid)
        if unique:
            if key in self.identities:
                return None
            person_given = ["".join(syllables)] if syllables else list(given.spellings)
            if self.collides(person_given, list(surname.spellings)):
                return None
        surname_sp = rng.choice(surname.spell(origin))
        if gender == "f":
            surname_sp = _female_surname(surname_sp, origin)
        p = Person(
            entry_id=self.new_id(), origin=origin, gender=gender, given=given,
            given_sp=rng.choice(given.spell(origin)), surname=surname, surname_sp=surname_sp,
            particle=particle, syllables=syllables,
            given_form=rng.choice(["space", "hyphen", "joined"]),
            country=rng.choice(COUNTRIES[origin]),
        )
        self._add_middle(p)
        p.style = self._style(origin)
        p.upper_surname = p.style == "comma" and rng.random() < 0.7
        self.identities.add(key)
        return p

    def _style(self, origin: str) -> str:
        r = self.rng.random()
        if origin in ("zh", "ko", "vi"):
            return "comma" if r < 0.4 else ("surname_first" if r < 0.8 else "given_first")
        return "comma" if r < 0.45 else "given_first"

    def _add_middle(self, p: Person) -> None:
        rng = self.rng
        if p.origin == "ru" and rng.random() < 0.8:
            father = rng.choice(RU_GIVEN_M)
            p.middle = father
            sp = rng.choice(father.patronymic)
            p.middle_sp = _female_patronymic(sp) if p.gender == "f" else sp
        elif p.origin in ("ar", "pk") and rng.random() < 0.45:
            father = rng.choice(AR_GIVEN_M)
            if father is not p.given:
                p.middle = father
                p.middle_sp = rng.choice(father.spell(p.origin))
                if rng.random() < 0.3:
                    p.middle_particle = rng.choice(["bin", "ibn", "bin"])
        elif p.origin == "fa" and rng.random() < 0.25:
            other = rng.choice(FA_GIVEN_M)
            if other is not p.given:
                p.middle = other
                p.middle_sp = rng.choice(other.spell(p.origin))
        elif p.origin == "vi":
            p.middle = VI_MIDDLE[-1] if p.gender == "f" else rng.choice(VI_MIDDLE[:-1])
            p.middle_sp = rng.choice(p.middle.spell(p.origin))
        elif p.origin == "es":
            if rng.random() < 0.3:
                p.middle = rng.choice(ES_MIDDLE)
                p.middle_sp = p.middle.first
            if not p.particle and rng.random() < 0.7:
                second = rng.choice(ES_SURNAMES)
                if second is not p.surname:
                    p.surname2 = second
                    p.surname2_sp = rng.choice(second.spell(p.origin))
        elif p.origin in ("west", "de", "tr", "bk") and rng.random() < 0.2:
            pool, _ = self.origin_pools(p.origin, p.gender)
            other = rng.choice(pool)
            if other is not p.given:
                p.middle = other
                p.middle_sp = other.first

    def alt_names(self, p: Person) -> list[str]:
        rng = self.rng
        alts: list[str] = []
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            spec = base_spec(p)
            choice = rng.random()
            if choice < 0.5:
                spec.given = self._other_spelling(p.given, spec.given, p) or spec.given
                other = self._other_spelling(p.surname, spec.surname, p)
                if other and rng.random() < 0.6:
                    spec.surname = other
            elif choice < 0.7:
                spec.middle = ""
                spec.middle_particle = ""
            elif choice < 0.85:
                spec.style = "given_first" if spec.style != "given_first" else "comma"
            else:
                spec.particle = ""
                spec.surname2 = ""
            alts.append(render(spec))
        return alts

    def _other_spelling(self, g: Group, used: str, p: Person) -> str:
        options = [s for s in g.spell(p.origin) + list(g.compound_joined)
                   if _key(s) != _key(used) and _fold(s) == s]
        if not options:
            return ""
        choice = self.rng.choice(options)
        if g is p.surname and p.gender == "f":
            choice = _female_surname(choice, p.origin)
        return choice

    # ---------------------------------------------------------------- entities
    def make_entity(self, *, unique: bool = True) -> Entity | None:
        rng = self.rng
        country = rng.choice(ENTITY_COUNTRIES)
        suffix, position = rng.choice(SUFFIXES[country[0]])
        if rng.random() < 0.15:
            city = rng.choice(INSTITUTE_CITIES)
            fieldname = rng.choice(INSTITUTE_FIELDS)
            e = Entity(
                entry_id="", country=country, core=city, generics=("Institute of", fieldname),
                suffix="", position="post", institute=True,
            )
        else:
            core = self._invented_word()
            generics = tuple(rng.sample(GENERIC_WORDS, rng.choice([1, 1, 2])))
            prefix = rng.choice(GEO_WORDS) if rng.random() < 0.3 else ""
            e = Entity(entry_id="", country=country, core=core, generics=generics,
                       prefix=prefix, suffix=suffix, position=position)
        if unique and any(self._entity_close(e, other) for other in self.entities):
            return None
        e.entry_id = self.new_id()
        return e

    def _invented_word(self) -> str:
        rng = self.rng
        return "".join(rng.sample(ENTITY_SYLLABLES, rng.choice([2, 2, 3]))).capitalize()

    @staticmethod
    def _entity_close(a: Entity, b: Entity) -> bool:
        close_core = Levenshtein.distance(_key(a.core), _key(b.core), score_cutoff=1) <= 1
        if a.institute or b.institute:
            return close_core and a.generics == b.generics
        return close_core

    def entity_alts(self, e: Entity) -> list[str]:
        rng = self.rng
        alts: list[str] = []
        if rng.random() < 0.5:
            alts.append(replace(e, suffix="").render())
        if rng.random() < 0.2 and e.prefix:
            alts.append(replace(e, prefix="").render())
        return alts


@dataclass
class Entity:
    entry_id: str
    country: tuple[str, str, str]
    core: str
    generics: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""
    position: str = "post"
    institute: bool = False
    case: str = "as_is"
    extra: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        if self.institute:
            text = f"{self.core} {self.generics[0]} {self.generics[1]}"
        else:
            words = [w for w in (self.prefix, self.core, *self.generics) if w]
            text = " ".join(words)
            if self.suffix:
                if self.position == "pre":
                    text = f'{self.suffix} "{text}"'
                else:
                    sep = ", " if self.suffix.startswith(("Co", "Ltd", "Limited")) and \
                        self.rng_comma() else " "
                    text = f"{text}{sep}{self.suffix}"
        if self.case == "upper":
            text = text.upper()
        return text

    def rng_comma(self) -> bool:
        # Deterministic per entity so re-rendering gives the same punctuation.
        return len(self.core) % 2 == 0


# --------------------------------------------------------------------------- list rows
def _weighted(rng: random.Random, items: Sequence[tuple[str, int]]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def person_row(gen: Generator, p: Person, number: int) -> dict[str, str]:
    rng = gen.rng
    code, cname, city = p.country
    address_country = cname if rng.random() < 0.4 else code
    address = f"{rng.randint(1, 200)} Street {rng.randint(1, 40)}, {city}, , , {address_country}"
    citizen = code if rng.random() < 0.7 else cname
    year = rng.randint(1940, 1995)
    return {
        "_id": p.entry_id,
        "source": _weighted(rng, SOURCES_PERSON),
        "entity_number": str(number),
        "type": "Individual",
        "programs": "; ".join(rng.sample(PROGRAMS[p.origin], rng.choice([1, 1, 2]))),
        "name": (name := render(base_spec(p))),
        "addresses": address if rng.random() < 0.8 else "",
        "alt_names": "; ".join(_unique_alts(name, gen.alt_names(p))),
        "citizenships": citizen if rng.random() < 0.6 else "",
        "nationalities": code if rng.random() < 0.5 else "",
        "dates_of_birth": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "remarks": "",
    }


def _unique_alts(name: str, alts: Iterable[str]) -> list[str]:
    seen = {name.casefold()}
    out: list[str] = []
    for alt in alts:
        if alt.casefold() not in seen:
            seen.add(alt.casefold())
            out.append(alt)
    return out


def entity_row(gen: Generator, e: Entity, number: int) -> dict[str, str]:
    rng = gen.rng
    code, cname, city = e.country
    address_country = cname if rng.random() < 0.4 else code
    return {
        "_id": e.entry_id,
        "source": _weighted(rng, SOURCES_ENTITY),
        "entity_number": str(number),
        "type": "Entity",
        "programs": "; ".join(rng.sample(PROGRAMS["ru" if code == "RU" else "fa"], 1)),
        "name": (name := e.render()),
        "addresses": f"{rng.randint(1, 99)} Industrial Zone, {city}, , , {address_country}",
        "alt_names": "; ".join(_unique_alts(name, gen.entity_alts(e))),
        "remarks": "",
    }


ORIGIN_WEIGHTS = [
    ("ar", 22), ("ru", 20), ("fa", 12), ("zh", 9), ("ko", 7), ("es", 10), ("vi", 3),
    ("tr", 4), ("bk", 3), ("de", 3), ("pk", 5), ("west", 2),
]


def build_list(
    gen: Generator, n_people: int, n_entities: int, *, unique: bool = True
) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    if unique:
        sid = Person(
            entry_id=gen.new_id(), origin="ru", gender="m", given=RU_GIVEN_M[9],
            given_sp="Ivan", surname=RU_SURNAMES[0], surname_sp="Sidorov",
            middle=RU_GIVEN_M[10], middle_sp="Petrovich", style="comma", upper_surname=True,
            country=("RU", "Russia", "Moscow"),
        )
        gen.register(sid)
        gen.identities.add(sid.identity)
        row = person_row(gen, sid, 1)
        row["alt_names"] = "Ivan Sidorov"
        rows.append(row)
    attempts = 0
    while len(gen.people) < n_people:
        attempts += 1
        if attempts > n_people * 50:
            raise RuntimeError("name pools too small for the requested list size")
        origin = _weighted(gen.rng, ORIGIN_WEIGHTS)
        p = gen.make_person(origin, unique=unique)
        if p is None:
            continue
        gen.register(p)
        rows.append(person_row(gen, p, len(rows) + 1))
    while len(gen.entities) < n_entities:
        e = gen.make_entity(unique=unique)
        if e is None:
            continue
        gen.entities.append(e)
        rows.append(entity_row(gen, e, len(rows) + 1))
    return rows


# --------------------------------------------------------------------------- positives
def _typo(rng: random.Random, word: str) -> str:
    """One edit inside one hyphen- or space-separated piece of five letters or more."""
    pieces = [m for m in re.finditer(r"[^\W\d_]+", word) if len(m.group(0)) >= 5]
    if not pieces:
        return word
    piece = rng.choice(pieces)
    i = rng.randrange(piece.start() + 1, piece.end())
    ch = word[i].lower()
    op = rng.choice(["sub", "del", "swap", "dup"])
    if op == "sub" and ch in KEYBOARD:
        return word[:i] + rng.choice(KEYBOARD[ch]) + word[i + 1:]
    if op == "del":
        return word[:i] + word[i + 1:]
    if op == "swap" and i + 1 < len(word) and word[i + 1].isalpha():
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]


class Variants:
    """Positive and negative query construction over a generated list."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.rng = gen.rng

    # each returns a query string or "" when the transform does not apply
    def translit(self, p: Person, spec: Spec) -> bool:
        options = []
        if not p.syllables:
            g = self.gen._other_spelling(p.given, spec.given, p)
            if g and _key(g) != _key(spec.given) and not p.given.compound_joined:
                options.append(("given", g))
        s = self.gen._other_spelling(p.surname, spec.surname, p)
        if s:
            options.append(("surname", s))
        if not options:
            return False
        which, value = self.rng.choice(options)
        setattr(spec, which, value)
        return True

    def reordered(self, p: Person, spec: Spec) -> bool:
        if spec.style == "given_first":
            spec.style = "surname_first"
        elif spec.style == "surname_first":
            spec.style = "given_first"
        else:
            spec.style = "surname_first"
        return True

    def dropped_middle(self, p: Person, spec: Spec) -> bool:
        if spec.middle:
            spec.middle = ""
            spec.middle_particle = ""
            return True
        if spec.surname2:
            spec.surname2 = ""
            return True
        return False

    def initials(self, p: Person, spec: Spec) -> bool:
        if not spec.middle or p.syllables or p.origin == "vi":
            return False
        if self.rng.random() < 0.25 and len(spec.given) > 2 and " " not in spec.given:
            spec.given = spec.given[0] + "."
        else:
            spec.middle = spec.middle[0] + "."
            spec.middle_particle = ""
        return True

    def diacritics(self, p: Person, spec: Spec) -> bool:
        changed = False
        for attr in ("given", "middle", "surname", "surname2"):
            value: str = getattr(spec, attr)
            if value and _fold(value) != value:
                setattr(spec, attr, _fold(value))
                changed = True
        if changed:
            return True
        for attr, grp in (("given", p.given), ("surname", p.surname), ("middle", p.middle),
                          ("surname2", p.surname2)):
            value = getattr(spec, attr)
            if grp is None or not value:
                continue
            accented = [s for s in grp.spell(p.origin) if _fold(s) == value and s != value]
            if accented:
                setattr(spec, attr, accented[0])
                changed = True
        return changed

    def particles(self, p: Person, spec: Spec) -> bool:
        if p.surname.nisba:
            forms = ["al", "Al", "el", "", "Al "]
            options = [f for f in forms if f.strip().lower() != spec.particle.lower() or
                       (f == "Al " and spec.particle)]
            choice = self.rng.choice(options)
            if choice == "Al ":
                spec.surname = f"Al {spec.surname}"
                spec.particle = ""
            else:
                spec.particle = choice
            return True
        if spec.middle_particle:
            spec.middle_particle = "" if self.rng.random() < 0.5 else "ibn"
            return True
        if p.particle:
            spec.particle = "" if self.rng.random() < 0.5 else p.particle.title()
            return True
        return False

    def typo(self, p: Person, spec: Spec) -> bool:
        attrs = [a for a in ("given", "surname", "middle")
                 if re.search(r"[^\W\d_]{5,}", getattr(spec, a))]
        if not attrs:
            return False
        attr = self.rng.choice(attrs)
        before = getattr(spec, attr)
        after = _typo(self.rng, before)
        setattr(spec, attr, after)
        return after != before

    def joined_split(self, p: Person, spec: Spec) -> bool:
        if p.syllables and len(p.syllables) > 1:
            forms = [f for f in ("space", "hyphen", "joined") if (f == "joined") !=
                     (p.given_form == "joined")]
            spec.given = _given_form(p.syllables, self.rng.choice(forms))
            return True
        if p.given.compound_joined:
            if " " in spec.given or "-" in spec.given:
                spec.given = spec.given.replace(" ", "").replace("-", "").capitalize()
            else:
                spec.given = self.rng.choice(p.given.spell(p.origin))
            return True
        return False

    def case_punct(self, p: Person, spec: Spec) -> bool:
        r = self.rng.random()
        if r < 0.35:
            spec.case = "upper"
        elif r < 0.6:
            spec.case = "lower"
        elif r < 0.8:
            spec.honorific = self.rng.choice(HONORIFICS)
        else:
            spec.extra_punct = True
        return True

    def cyrillic(self, p: Person) -> str:
        if p.origin != "ru" or not p.given.cyrillic or not p.surname.cyrillic:
            return ""
        sur = p.surname.cyrillic
        if p.gender == "f":
            sur = _female_cyr(sur)
        parts = [p.given.cyrillic]
        if p.middle is not None and p.middle.patronymic_cyrillic and self.rng.random() < 0.6:
            pat = p.middle.patronymic_cyrillic
            parts.append(_female_patronymic_cyr(pat) if p.gender == "f" else pat)
        if self.rng.random() < 0.5:
            return f"{sur} {' '.join(parts)}"
        return f"{' '.join(parts)} {sur}"


PERSON_KINDS = [
    ("translit", 130), ("reordered", 90), ("dropped_middle", 100), ("initials", 80),
    ("diacritics", 80), ("cyrillic", 60), ("particles", 80), ("typo", 130),
    ("joined_split", 70), ("case_punct", 60), ("combined", 110),
]
COMBINABLE = ["translit", "reordered", "dropped_middle", "diacritics", "particles", "typo",
              "case_punct", "joined_split", "initials"]


def _query_countries(rng: random.Random, code: str, origin_countries: Sequence[str]) -> str:
    r = rng.random()
    if r < 0.45:
        return code
    if r < 0.6:
        return rng.choice([c for c in origin_countries if c != code] or ["US"])
    return ""


def make_positives(gen: Generator) -> list[dict[str, str]]:
    rng = gen.rng
    var = Variants(gen)
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    all_codes = sorted({c for cs in COUNTRIES.values() for c, _, _ in cs})

    def add(kind: str, query: str, entry_id: str, code: str) -> None:
        if (query, entry_id) in seen:
            return
        seen.add((query, entry_id))
        rows.append({"label": "positive", "kind": kind, "query": query,
                     "countries": _query_countries(rng, code, all_codes),
                     "entry_id": entry_id, "related_entry_id": entry_id})

    sidorov = gen.people[0]
    add("initials", "Ivan P. Sidorov", sidorov.entry_id, "RU")
    for kind, target in PERSON_KINDS:
        made = 0
        tries = 0
        while made < target and tries < target * 60:
            tries += 1
            p = rng.choice(gen.people)
            spec = base_spec(p)
            if kind == "cyrillic":
                query = var.cyrillic(p)
            elif kind == "combined":
                first, second = rng.sample(COMBINABLE, 2)
                ok = getattr(var, first)(p, spec) and getattr(var, second)(p, spec)
                query = render(spec) if ok else ""
            else:
                query = render(spec) if getattr(var, kind)(p, spec) else ""
            if not query or query == render(base_spec(p)):
                continue
            before = len(rows)
            add(kind, query, p.entry_id, p.country[0])
            made += len(rows) - before
    for kind, target in (("entity_suffix", 110), ("entity_typo", 70), ("entity_case", 30)):
        made = 0
        tries = 0
        while made < target and tries < target * 60:
            tries += 1
            e = rng.choice(gen.entities)
            if e.institute and kind == "entity_suffix":
                continue
            changed = entity_variant(rng, e, kind)
            if changed is None:
                continue
            before = len(rows)
            add(kind, changed.render(), e.entry_id, e.country[0])
            made += len(rows) - before
    return rows


def entity_variant(rng: random.Random, e: Entity, kind: str) -> Entity | None:
    if kind == "entity_suffix":
        options = [s for s in SUFFIXES[e.country[0]] if s[0] != e.suffix] + [("", "post")]
        options += [("LLC", "post"), ("Ltd", "post"), ("Co.", "post")]
        suffix, position = rng.choice(options)
        if suffix == e.suffix:
            return None
        return replace(e, suffix=suffix, position=position)
    if kind == "entity_typo":
        if len(e.core) < 5:
            return None
        typo = _typo(rng, e.core)
        return replace(e, core=typo) if typo != e.core else None
    return replace(e, case="upper")


# --------------------------------------------------------------------------- negatives
def make_negatives(gen: Generator) -> list[dict[str, str]]:
    rng = gen.rng
    rows: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(kind: str, query: str, related: str, code: str) -> None:
        if query in seen:
            return
        seen.add(query)
        country = code if rng.random() < 0.5 else ""
        rows.append({"label": "negative", "kind": kind, "query": query, "countries": country,
                     "entry_id": "", "related_entry_id": related})

    def person_query(given: str, surname: str, p: Person) -> str:
        style = rng.choice(["given_first", "given_first", "comma", "surname_first"])
        spec = Spec(given=given, surname=surname, style=style,
                    upper_surname=style == "comma" and rng.random() < 0.6)
        if p.surname.nisba and surname == p.surname_sp:
            spec.particle = p.particle
        return render(spec)

    def other_given(p: Person) -> tuple[str, list[str]] | None:
        if p.syllables:
            pool = ZH_SYLLABLES if p.origin == "zh" else KO_SYLLABLES
            syl = tuple(rng.sample(pool, len(p.syllables)))
            return _given_form(syl, p.given_form), ["".join(syl)]
        given_pool, _ = gen.origin_pools(p.origin, p.gender)
        g = rng.choice(given_pool)
        if g is p.given:
            return None
        return rng.choice(g.spell(p.origin)), list(g.spellings) + list(g.compound_joined)

    targets = [
        ("same_surname_other_given", 230), ("same_given_other_surname", 230),
        ("lookalike_surname", 130), ("single_token", 110), ("entity_other_core", 110),
        ("entity_lookalike_core", 90), ("institute_other", 40), ("unrelated", 80),
    ]
    for kind, target in targets:
        made = 0
        tries = 0
        while made < target and tries < target * 200:
            tries += 1
            before = len(rows)
            if kind.startswith(("entity", "institute")):
                entity_negative(gen, kind, add)
            elif kind == "single_token":
                single_token_negative(gen, add)
            else:
                p = rng.choice(gen.people)
                query_parts = person_negative(gen, p, kind, other_given)
                if query_parts is None:
                    continue
                given, given_all, surname, surname_all = query_parts
                if gen.collides(given_all, surname_all):
                    continue
                add(kind, person_query(given, surname, p), p.entry_id, p.country[0])
            made += len(rows) - before
    return rows


def person_negative(
    gen: Generator, p: Person, kind: str, other_given: object
) -> tuple[str, list[str], str, list[str]] | None:
    rng = gen.rng
    given_all = ["".join(p.syllables)] if p.syllables else list(p.given.spellings)
    given = _given_form(p.syllables, p.given_form) if p.syllables else p.given_sp
    if kind == "same_surname_other_given":
        picked = other_given(p)  # type: ignore[operator]
        if picked is None:
            return None
        g, g_all = picked
        return g, g_all, p.surname_sp, list(p.surname.spellings)
    _, pool = gen.origin_pools(p.origin, p.gender)
    if kind == "same_given_other_surname":
        s = rng.choice(pool)
        if s is p.surname:
            return None
        return given, given_all, rng.choice(s.spell(p.origin)), list(s.spellings)
    if kind == "lookalike_surname":
        own = [_key(x) for x in p.surname.spellings]
        scored = []
        for s in pool:
            if s is p.surname:
                continue
            best = max(
                (1 - Levenshtein.normalized_distance(a, _key(b)) for a in own
                 for b in s.spellings),
            )
            scored.append((best, s.gid, s))
        scored.sort(key=lambda t: (-t[0], t[1]))
        top = [s for _, _, s in scored[:3]]
        if not top:
            return None
        s = rng.choice(top)
        return given, given_all, rng.choice(s.spell(p.origin)), list(s.spellings)
    if kind == "unrelated":
        origin = rng.choice(["west", "es", "de", "tr"])
        gp, sp = gen.origin_pools(origin, "m")
        g = rng.choice(gp)
        s = rng.choice(sp)
        return rng.choice(g.spell(origin)), list(g.spellings), rng.choice(s.spell(origin)), list(
            s.spellings)
    raise ValueError(kind)


def single_token_negative(gen: Generator, add: object) -> None:
    rng = gen.rng
    r = rng.random()
    if r < 0.4:
        p = rng.choice(gen.people)
        token = p.given_sp if not p.syllables else _given_form(p.syllables, "joined")
        if " " in token:
            return
    elif r < 0.75:
        p = rng.choice(gen.people)
        token = p.surname_sp
    else:
        e = rng.choice(gen.entities)
        token = rng.choice(["Institute", *GENERIC_WORDS[:12], *GEO_WORDS[:8]])
        p = None
        add("single_token", token, e.entry_id, "")  # type: ignore[operator]
        return
    # A one-token list name would make a one-token query a real match.
    add("single_token", token, p.entry_id, p.country[0])  # type: ignore[operator]


def entity_negative(gen: Generator, kind: str, add: object) -> None:
    rng = gen.rng
    e = rng.choice(gen.entities)
    if kind == "institute_other":
        institutes = [x for x in gen.entities if x.institute]
        if not institutes:
            return
        e = rng.choice(institutes)
        if rng.random() < 0.5:
            other = replace(e, generics=("Institute of", rng.choice(INSTITUTE_FIELDS)))
        else:
            other = replace(e, core=rng.choice(INSTITUTE_CITIES))
        if any(x.institute and x.core == other.core and x.generics == other.generics
               for x in gen.entities):
            return
        add("institute_other", other.render(), e.entry_id, e.country[0])  # type: ignore[operator]
        return
    if e.institute:
        return
    if kind == "entity_other_core":
        core = gen._invented_word()
    else:
        cores = [gen._invented_word() for _ in range(200)]
        cores = [c for c in cores
                 if Levenshtein.distance(_key(c), _key(e.core)) >= 2]
        cores.sort(key=lambda c: (Levenshtein.normalized_distance(_key(c), _key(e.core)), c))
        core = cores[0] if cores else ""
    if not core:
        return
    other = replace(e, core=core)
    if any(Generator._entity_close(other, x) for x in gen.entities):
        return
    add(kind, other.render(), e.entry_id, e.country[0])  # type: ignore[operator]


# --------------------------------------------------------------------------- writing
def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def generate_eval(seed: int = SEED) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    gen = Generator(seed)
    list_rows = build_list(gen, n_people=1750, n_entities=600)
    positives = make_positives(gen)
    negatives = make_negatives(gen)
    queries = positives + negatives
    for i, row in enumerate(queries, start=1):
        row["query_id"] = f"q{i:05d}"
    return list_rows, queries


def generate_bench_list(n_entries: int, seed: int = SEED + 1) -> list[dict[str, str]]:
    """A large list for speed tests: identities may repeat, vocabulary is widened."""
    gen = Generator(seed, synthetic_surnames=200)
    gen.synth_surnames()
    n_entities = n_entries // 5
    return build_list(gen, n_people=n_entries - n_entities, n_entities=n_entities, unique=False)


def bench_queries(n: int, seed: int = SEED + 2) -> list[tuple[str, str]]:
    """Member-like names for bulk re-screening: mostly not on any list."""
    gen = Generator(seed, synthetic_surnames=200)
    gen.synth_surnames()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        origin = _weighted(gen.rng, ORIGIN_WEIGHTS + [("west", 30)])
        p = gen.make_person(origin, unique=False)
        if p is not None:
            out.append((render(base_spec(p)), p.country[0]))
    return out


def main() -> None:
    list_rows, queries = generate_eval()
    write_csv(LIST_FILE, CSL_COLUMNS, list_rows)
    write_csv(QUERY_FILE, QUERY_COLUMNS, queries)
    pos = sum(q["label"] == "positive" for q in queries)
    print(f"{LIST_FILE.name}: {len(list_rows)} entries; "
          f"{QUERY_FILE.name}: {pos} positives, {len(queries) - pos} negatives")


if __name__ == "__main__":
    main()
