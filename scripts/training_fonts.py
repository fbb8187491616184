"""Hand-printing fonts used ONLY to train the reader's networks (digits and letters): the simulator
writes with other ones (zonepaper.simulate.HAND_FONTS), so that what the networks are measured on
is a hand they never learnt from. Debian packages, installed only where networks are trained."""

TRAINING_FONTS = (  # hand-printing fonts used ONLY for training; the simulator uses other ones
    "/usr/share/fonts/opentype/bwht/BecauseWeBuild-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeConnect-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeCreate-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeLearn-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeMentor-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeOrganize-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Light.otf",
    "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf",
    "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf",
    "/usr/share/fonts/truetype/rufscript/Rufscript010.ttf",
    "/usr/share/fonts/truetype/yusei-magic/YuseiMagic-Regular.ttf",
    "/usr/share/fonts/opentype/kaushanscript/KaushanScript-Regular.otf",
    "/usr/share/fonts/truetype/kristi/Kristi.ttf",
    "/usr/share/fonts/truetype/tomsontalks/TomsonTalks.ttf",
)


TRAINING_FONT_PACKAGES = ("apt-get install fonts-bwht fonts-comic-neue fonts-klee fonts-rufscript fonts-yusei-magic"
                          " fonts-kaushanscript fonts-kristi fonts-tomsontalks")
