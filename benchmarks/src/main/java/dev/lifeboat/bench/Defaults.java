package dev.lifeboat.bench;

/** JVM options of every benchmark fork: room for 1 GiB of data plus its compressed or sealed copy; JNI codecs allowed.
 * */
public final class Defaults {
    public static final String XMX = "-Xmx4g";
    public static final String NATIVE = "--enable-native-access=ALL-UNNAMED";
    /** JMH 1.37 uses sun.misc.Unsafe, which JDK 25 warns about on every fork. */
    public static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";

    private Defaults() {}
}
