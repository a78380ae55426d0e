"""Hand-written polarity cues, written for Sada, shared by every language through two tokens.

The training data has under 2,000 tweets for most languages; a word seen in one language's
lexicon lends its polarity to all of them through the shared `_lex+` / `_lex-` features. Words
are folded (`processors.sentiment.features.fold`) when loaded, so accents and letter forms may vary.
"""

from __future__ import annotations

_POSITIVE_WORDS = (
    # English
    "good great love loved loving lovely amazing awesome excellent best better perfect happy "
    "glad thanks thank fantastic wonderful beautiful nice cool fun enjoy enjoyed favorite "
    "favourite brilliant incredible superb win winning proud excited exciting recommend "
    "helpful smooth fast quick impressed congrats congratulations blessed lol haha yay wow "
    # Arabic (MSA and dialects)
    "حلو حلوه جميل جميله رائع رائعه ممتاز ممتازه روعه تحفه احب حب احبك احبه بحب يجنن "
    "شكرا مشكور مشكورين يعطيكم العافيه يسعدك مبروك مبارك الحمدلله سعيد سعيده فرحان "
    "افضل احسن اجمل عظيم عظيمه خرافي خرافيه فخور فخر نجاح ناجح موفق بالتوفيق يستاهل "
    "حبيبي حبيبتي جامد جامده فظيع عسل كويس كويسه تمام زين زينه حلوين ابداع مبدع "
    # Arabizi
    "7elw 7elwa 7ilw helw 7ob ba7eb b7eb bahebak mabrook mabrouk shukran shokran "
    "mumtaz momtaz roo3a 7abibi habibi gamed gamda tamam kwayes 3azeem "
    # French
    "bien bon bonne génial genial super merci excellent excellente parfait parfaite adore "
    "aime j'adore magnifique bravo top heureux heureuse content contente meilleur formidable "
    "incroyable sympa cool félicitations felicitations "
    # German, Italian, Spanish, Portuguese
    "gut toll super danke liebe schön schoen großartig grossartig beste glücklich gluecklich "
    "bello bella bellissimo bellissima grazie amore ottimo ottima fantastico felice migliore "
    "bueno buena buenísimo gracias amor genial mejor feliz excelente increíble hermoso hermosa "
    "bom boa ótimo otimo ótima obrigado obrigada amo lindo linda maravilhoso melhor feliz "
    # Romanised Hindi
    "accha achha acha badhiya badiya mast shandar shaandar khush pyaar pyar dhanyavaad "
    "shukriya behtareen zabardast kamaal khub khoob badhai waah shubh sundar maza mazaa "
    # Emoji
    "😍 ❤ ♥ 😊 😀 😁 😂 🤣 😃 😄 😘 🥰 👍 👏 🙏 💕 💖 💯 🔥 ✨ 🎉 😎 🤩 💪 🌹 ☺"
)

_NEGATIVE_WORDS = (
    # English
    "bad worst worse terrible awful horrible hate hated sad angry annoyed annoying disappointed "
    "disappointing disgusting poor useless broken fail failed failure scam fraud rubbish trash "
    "garbage sucks suck stupid ugly waste wasted slow delayed refund problem issue issues "
    "cancelled canceled rude lies liar pathetic ridiculous shame fuck shit damn wtf "
    "sick killed death dead war crisis corrupt corruption "
    # Arabic (MSA and dialects)
    "سيء سيئ سيئه سيئين اسوا زفت خايس خايسه فاشل فاشله فشل مشكله مشاكل متاخر تاخير "
    "احتيال نصب نصابين حرامي حراميه غاضب زعلان حزين حزينه للاسف الاسف قرف مقرف "
    "تعبان ضعيف ضعيفه خربان عطلان معطل خراب اكره بكره كره حسبي حسبنا ظلم ظالم "
    "كذب كذاب كذابين فساد فاسد حرام مسخره مهزله سخيف تافه وسخ زباله غبي غبيه "
    "موت قتل مات دمار حرب ازمه خيبه خسران خساره بطيء بطئ مقهور قهر ياخذكم "
    # Arabizi
    "5ara khara za3lan zaalan sayi2 fashel fashal 7aram 3ayeb mafeesh ya5y "
    # French
    "nul nulle mauvais mauvaise horrible déçu decu déçue deçu arnaque retard pire honte "
    "triste déteste deteste merde putain problème probleme panne cassé casse lent "
    "inadmissible scandale scandaleux catastrophe "
    # German, Italian, Spanish, Portuguese
    "schlecht schlimm scheiße scheisse traurig hasse schrecklich leider enttäuscht "
    "brutto brutta pessimo pessima schifo triste odio peggio peggiore vergogna purtroppo "
    "malo mala peor triste odio asco mierda horrible vergüenza verguenza lamentablemente "
    "ruim péssimo pessimo péssima pior triste odeio merda vergonha infelizmente horrível "
    # Romanised Hindi
    "bura buri bekar bekaar bakwas bakwaas ghatiya dukh dukhi gussa nafrat sharam sharmnaak chor "
    "kharab galat ganda jhooth jhoota pareshan badnaam "
    # Emoji
    "😡 😠 🤬 😢 😭 😞 😒 👎 💔 😤 😩 😫 🙄 😔 😷 🤮 😑"
)

POSITIVE = frozenset(_POSITIVE_WORDS.split())
NEGATIVE = frozenset(_NEGATIVE_WORDS.split())
