using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sidecars.Tests.Infrastructure;

/// <summary>A throwaway CA and a server certificate for localhost / 127.0.0.1, written as PEM files.</summary>
internal static class TestCertificates
{
    public static (string Certificate, string Key, string Ca) Write(string directory)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=sidecars-test-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var ca = caRequest.CreateSelfSigned(now, now.AddDays(1));

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, now, now.AddDays(1), RandomNumberGenerator.GetBytes(8));

        var paths = (Path.Combine(directory, "server.crt"), Path.Combine(directory, "server.key"), Path.Combine(directory, "ca.crt"));
        File.WriteAllText(paths.Item1, server.ExportCertificatePem());
        File.WriteAllText(paths.Item2, serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(paths.Item3, ca.ExportCertificatePem());
        return paths;
    }
}
